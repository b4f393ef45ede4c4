"""Bearer-token authentication for the API: `Authorization: Bearer tb_…`.

Invalid tokens are counted per client address: after `TUNEBOARD_TOKEN_FAILURES` within
`TUNEBOARD_TOKEN_LOCKOUT_MINUTES` of the first, that address gets 429 with `Retry-After`
for the rest of the window, whatever token it sends. The counts live in Django's default
cache (local memory, so per server process).
"""

import math
import time

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from jobs.accounts.lockout import client_address
from jobs.accounts.tokens import TokenRejected, token_lookup, token_touch


def _failure_keys(address):
    return f"tb:token-failures:{address}", f"tb:token-failures-until:{address}"


def token_failures_check(request):
    """Raise `Throttled` (429, `Retry-After`) if the request's address has sent too many
    invalid tokens lately."""
    count_key, until_key = _failure_keys(client_address(request))
    if (cache.get(count_key) or 0) < settings.TUNEBOARD_TOKEN_FAILURES:
        return
    until = cache.get(until_key) or time.time()
    raise exceptions.Throttled(
        wait=max(1, math.ceil(until - time.time())),
        detail="Too many invalid tokens from this address.",
    )


def token_failure_record(request):
    """Count one invalid token from the request's address; the window opens with the
    first and closes `TUNEBOARD_TOKEN_LOCKOUT_MINUTES` later."""
    count_key, until_key = _failure_keys(client_address(request))
    window = settings.TUNEBOARD_TOKEN_LOCKOUT_MINUTES * 60
    cache.add(until_key, time.time() + window, window)
    cache.add(count_key, 0, window)
    try:
        cache.incr(count_key)
    except ValueError:  # expired between add and incr: this failure opens a new window
        cache.add(count_key, 1, window)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        token_failures_check(request)
        if len(header) != 2:
            token_failure_record(request)
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Bearer <token>'."
            )
        try:
            raw = header[1].decode()
        except UnicodeError:
            token_failure_record(request)
            raise exceptions.AuthenticationFailed("Invalid token characters.") from None
        try:
            token = token_lookup(raw)
        except TokenRejected as exc:
            token_failure_record(request)
            raise exceptions.AuthenticationFailed(exc.message) from None
        token_touch(token)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents `BearerTokenAuthentication` in the OpenAPI schema."""

    target_class = "jobs.api.auth.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `manage.py create_token` or the admin.",
        }
