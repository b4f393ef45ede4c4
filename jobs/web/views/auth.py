"""Sign-in (a password, or single sign-on), sign-out and the liveness probe."""

import logging
import math

import requests
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.generic import View
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from jobs.accounts.lockout import signin_retry_after

from ..oidc import provider_setting, sso_enabled

logger = logging.getLogger(__name__)


def sso_context(request, *, failed=False):
    """What the sign-in page says about single sign-on: its button (when it is on) and
    whether the last try with it failed."""
    if not sso_enabled():
        return {}
    return {
        "sso": {
            "name": settings.TUNEBOARD_OIDC_PROVIDER_NAME,
            "failed": failed or request.GET.get("sso") == "failed",
        }
    }


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **sso_context(self.request)}


class SsoStartView(OIDCAuthenticationRequestView):
    """The "Sign in with …" link: off to the provider with a fresh state, nonce and PKCE
    challenge (kept in the session). 404 when single sign-on is off."""

    get_settings = staticmethod(provider_setting)

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the endpoints are read per request, below

    def get(self, request):
        if not sso_enabled():
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except (requests.RequestException, ValueError, ImproperlyConfigured):
            logger.exception("single sign-on: the provider's discovery failed")
            return redirect(settings.LOGIN_REDIRECT_URL_FAILURE)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """The provider sends the browser back here with a code; the library checks the
    state, trades the code for tokens and checks the ID token (`jobs.web.oidc`). A
    forged or replayed answer (unknown state, wrong nonce) is refused with 400."""

    get_settings = staticmethod(provider_setting)

    def get(self, request):
        if not sso_enabled():
            raise Http404
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            logger.warning("single sign-on refused: %s", exc)
            context = {"form": AuthenticationForm(request), **sso_context(request, failed=True)}
            return render(request, "registration/login.html", context, status=400)
        except (requests.RequestException, ValueError, ImproperlyConfigured):
            logger.exception("single sign-on: the provider's answer could not be used")
            return self.login_failure()


def signin_locked(request, original_response=None, credentials=None):
    """The sign-in page saying that sign-in is locked, 429 with `Retry-After`
    (`AXES_LOCKOUT_CALLABLE`). The same words whether or not the username exists."""
    username = request.POST.get("username", "")
    retry_after = signin_retry_after(request)
    response = render(
        request,
        "registration/login.html",
        {
            "form": AuthenticationForm(request, initial={"username": username}),
            "next": request.POST.get("next", ""),
            "locked_minutes": math.ceil(retry_after / 60),
            **sso_context(request),
        },
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


class LogoutView(auth_views.LogoutView):
    pass


def healthz(request):
    """Liveness for load balancers and `scripts/run`: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
