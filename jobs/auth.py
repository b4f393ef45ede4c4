"""Bearer-token authentication for the API: `Authorization: Bearer tb_…`."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .models import ApiToken, token_hash


def token_lookup(raw):
    """The active token for `raw`, or raise `AuthenticationFailed`."""
    try:
        token = ApiToken.objects.select_related("user").get(key_hash=token_hash(raw))
    except ApiToken.DoesNotExist:
        raise exceptions.AuthenticationFailed("Invalid token.") from None
    if token.revoked_at:
        raise exceptions.AuthenticationFailed("Token has been revoked.")
    if token.expires_at and token.expires_at <= timezone.now():
        raise exceptions.AuthenticationFailed("Token has expired.")
    if not token.user.is_active:
        raise exceptions.AuthenticationFailed("User inactive or deleted.")
    return token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Bearer <token>'."
            )
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token characters.") from None
        token = token_lookup(raw)
        now = timezone.now()
        # Bounded write amplification: touch last_used at most once a minute.
        if not token.last_used_at or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents `BearerTokenAuthentication` in the OpenAPI schema."""

    target_class = "jobs.auth.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `manage.py create_token` or the admin.",
        }
