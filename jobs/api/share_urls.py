"""The API a share link's page reads, mounted at /s/<secret>/api/ (see views/shared.py)."""

from django.urls import path

from .views import shared

urlpatterns = [
    path("jobs/<slug:uid>", shared.SharedJobDetailApi.as_view(), name="share-api-job"),
    path(
        "jobs/<slug:uid>/metrics",
        shared.SharedJobMetricsApi.as_view(),
        name="share-api-job-metrics",
    ),
    path("jobs/<slug:uid>/logs", shared.SharedJobLogsApi.as_view(), name="share-api-job-logs"),
    path(
        "training/resources",
        shared.SharedResourceSeriesApi.as_view(),
        name="share-api-training-resources",
    ),
]
