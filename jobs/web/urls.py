"""Page routes: dashboard, live job screen, sign-in and sign-out."""

from django.urls import path

from . import views

app_name = "jobs"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("job/<slug:uid>", views.job_detail, name="job"),
    path("job/<slug:uid>/details", views.job_details, name="job-details"),
    path("compare", views.compare, name="compare"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
]
