"""Single sign-on with OpenID Connect (mozilla-django-oidc), on when
`TUNEBOARD_OIDC_ISSUER` is set (docs/security.md, "Single sign-on").

The library runs the authorization-code flow (state, nonce and PKCE kept in the
session); this module adds what Tuneboard needs around it: the provider's endpoints from
its discovery document, an ID token checked for this client and this issuer, and the
account and project roles set through `services.sign_in_identity_user` on each sign-in.
"""

import logging
import threading

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from jobs import services

logger = logging.getLogger(__name__)

# Library setting -> the discovery document's field (used when the setting is blank).
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
_documents = {}
_documents_lock = threading.Lock()


def sso_enabled():
    return bool(settings.TUNEBOARD_OIDC_ISSUER)


def provider_document():
    """The issuer's discovery document, read once per process (again after a failure).
    Raises `requests.RequestException` or `ImproperlyConfigured` when it cannot be used."""
    issuer = settings.TUNEBOARD_OIDC_ISSUER
    with _documents_lock:
        if issuer not in _documents:
            response = requests.get(
                f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT
            )
            response.raise_for_status()
            document = response.json()
            if str(document.get("issuer", "")).rstrip("/") != issuer:
                raise ImproperlyConfigured(
                    f"The discovery document of {issuer} names another issuer"
                )
            _documents[issuer] = document
        return _documents[issuer]


def provider_setting(name, *default):
    """A library setting; a blank endpoint is taken from the provider's discovery."""
    if name in DISCOVERED:
        if explicit := getattr(settings, name, ""):
            return explicit
        return provider_document().get(DISCOVERED[name]) or (default[0] if default else None)
    return import_from_settings(name, *default)


class SignInBackend(OIDCAuthenticationBackend):
    """The authentication backend of the provider's callback (listed in
    `AUTHENTICATION_BACKENDS` only when single sign-on is on)."""

    get_settings = staticmethod(provider_setting)

    def __init__(self, *args, **kwargs):
        # Django builds every backend for every sign-in, passwords included: the
        # provider's endpoints are read only when its answer is being checked.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if not (sso_enabled() and request is not None and "nonce" in kwargs):
            return None
        super().__init__()
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        """The library checks the signature, the expiry and the nonce; an ID token must
        also be from our issuer and for this client (OpenID Connect Core 3.1.3.7)."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token is for another client.")
        if str(payload.get("iss", "")).rstrip("/") != settings.TUNEBOARD_OIDC_ISSUER:
            raise SuspiciousOperation("The ID token is from another issuer.")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, completed by the userinfo endpoint when there is one."""
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            info = super().get_userinfo(access_token, id_token, payload)
            if info.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("The userinfo answer is about someone else.")
            claims.update(info)
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        try:
            return services.sign_in_identity_user(
                issuer=settings.TUNEBOARD_OIDC_ISSUER,
                subject=claims.get("sub"),
                username=claims.get(settings.TUNEBOARD_OIDC_USERNAME_CLAIM),
                email=claims.get("email") or "",
                groups=claims.get(settings.TUNEBOARD_OIDC_GROUPS_CLAIM) or [],
                role_map=settings.TUNEBOARD_OIDC_ROLES,
            )
        except (services.InvalidInput, services.Conflict) as exc:
            # The library turns this into a refused sign-in (the login page says so).
            raise SuspiciousOperation(f"single sign-on refused: {exc}") from exc
