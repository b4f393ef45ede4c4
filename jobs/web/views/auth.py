"""Sign-in, sign-out and the liveness probe."""

from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import JsonResponse


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def healthz(request):
    """Liveness for load balancers and `scripts/run`: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
