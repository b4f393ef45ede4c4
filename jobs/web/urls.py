"""Page routes: dashboard, live job screen, compare, sign-in and sign-out, alert settings."""

from django.urls import path

from .views import alerts, auth, collab, compare, dashboard, job, runs, shared, trash

app_name = "jobs"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("job/<slug:uid>", job.job_detail, name="job"),
    path("job/<slug:uid>/details", job.job_details, name="job-details"),
    path("compare", compare.compare, name="compare"),
    path("runs", runs.runs, name="runs"),
    path("trash", trash.trash, name="trash"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    # Single sign-on (OpenID Connect): 404 unless TUNEBOARD_OIDC_ISSUER is set.
    path("oidc/start/", auth.SsoStartView.as_view(), name="oidc-start"),
    path("oidc/callback/", auth.SsoCallbackView.as_view(), name="oidc-callback"),
    path("healthz", auth.healthz, name="healthz"),
    path("settings/alerts", alerts.alert_settings, name="alert-settings"),
    path("s/<slug:secret>/", shared.shared_page, name="shared"),
    path("s/<slug:secret>/details", shared.shared_details, name="shared-details"),
    path("notifications/read", collab.notifications_read, name="notifications-read"),
    path("projects/<slug:slug>/settings", collab.project_settings, name="project-settings"),
]
