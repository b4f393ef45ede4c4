"""Page routes: dashboard, live job screen, compare, sign-in and sign-out, alert settings."""

from django.urls import path

from .views import alerts, auth, compare, dashboard, job, runs

app_name = "jobs"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("job/<slug:uid>", job.job_detail, name="job"),
    path("job/<slug:uid>/details", job.job_details, name="job-details"),
    path("compare", compare.compare, name="compare"),
    path("runs", runs.runs, name="runs"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("healthz", auth.healthz, name="healthz"),
    path("settings/alerts", alerts.alert_settings, name="alert-settings"),
]
