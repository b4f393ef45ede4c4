"""Sign-in, sign-out and the liveness probe."""

import math

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from jobs.accounts.lockout import signin_retry_after


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


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
