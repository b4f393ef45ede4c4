"""Routes of the HTTP API, mounted at /api/ (paths as in SPEC.md, no trailing slash).

`current`, `past` and `statistics` come before `<uid>` so they are never read as uids.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views as api
from .resources import ResourceIngestApi, ResourceSeriesApi

urlpatterns = [
    path("jobs", api.JobListApi.as_view(), name="api-jobs"),
    path("jobs/current", api.CurrentJobsApi.as_view(), name="api-jobs-current"),
    path("jobs/past", api.PastJobsApi.as_view(), name="api-jobs-past"),
    path("jobs/statistics", api.JobStatisticsApi.as_view(), name="api-jobs-statistics"),
    path("jobs/<slug:uid>", api.JobDetailApi.as_view(), name="api-job"),
    path("jobs/<slug:uid>/metrics", api.JobMetricsApi.as_view(), name="api-job-metrics"),
    path("jobs/<slug:uid>/logs", api.JobLogsApi.as_view(), name="api-job-logs"),
    path("jobs/<slug:uid>/stages", api.JobStagesApi.as_view(), name="api-job-stages"),
    path("jobs/<slug:uid>/status", api.JobStatusApi.as_view(), name="api-job-status"),
    path("jobs/<slug:uid>/export", api.JobExportApi.as_view(), name="api-job-export"),
    path("training/losses", api.TrainingLossesApi.as_view(), name="api-training-losses"),
    path("training/resources", ResourceSeriesApi.as_view(), name="api-training-resources"),
    path(
        "training/status/<slug:uid>",
        api.TrainingStatusApi.as_view(),
        name="api-training-status",
    ),
    path("training/summary", api.TrainingSummaryApi.as_view(), name="api-training-summary"),
    path("resources", ResourceIngestApi.as_view(), name="api-resources"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
