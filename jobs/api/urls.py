"""Routes of the HTTP API, mounted at /api/ (paths as in SPEC.md, no trailing slash).

`current`, `past`, `statistics`, `bulk` and `trash` come before `<uid>` so they are never
read as uids.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import (
    alerts,
    audit,
    bulk,
    comments,
    export,
    jobs,
    logs,
    metrics,
    projects,
    reports,
    resources,
    samples,
    saved_views,
    share_links,
    stages,
    status,
    trash,
)

urlpatterns = [
    path("jobs", jobs.JobListApi.as_view(), name="api-jobs"),
    path("jobs/current", jobs.CurrentJobsApi.as_view(), name="api-jobs-current"),
    path("jobs/past", jobs.PastJobsApi.as_view(), name="api-jobs-past"),
    path("jobs/statistics", jobs.JobStatisticsApi.as_view(), name="api-jobs-statistics"),
    path("jobs/bulk", bulk.JobBulkApi.as_view(), name="api-jobs-bulk"),
    path("jobs/trash", trash.TrashListApi.as_view(), name="api-jobs-trash"),
    path("jobs/<slug:uid>", jobs.JobDetailApi.as_view(), name="api-job"),
    path("jobs/<slug:uid>/restore", trash.JobRestoreApi.as_view(), name="api-job-restore"),
    path("jobs/<slug:uid>/metrics", metrics.JobMetricsApi.as_view(), name="api-job-metrics"),
    path("jobs/<slug:uid>/logs", logs.JobLogsApi.as_view(), name="api-job-logs"),
    path("jobs/<slug:uid>/stages", stages.JobStagesApi.as_view(), name="api-job-stages"),
    path("jobs/<slug:uid>/status", status.JobStatusApi.as_view(), name="api-job-status"),
    path("jobs/<slug:uid>/stop", status.JobStopApi.as_view(), name="api-job-stop"),
    path("jobs/<slug:uid>/export", export.JobExportApi.as_view(), name="api-job-export"),
    path("jobs/<slug:uid>/samples", samples.JobSamplesApi.as_view(), name="api-job-samples"),
    path(
        "jobs/<slug:uid>/samples/prompts",
        samples.JobSamplePromptsApi.as_view(),
        name="api-job-sample-prompts",
    ),
    path(
        "jobs/<slug:uid>/samples/scores",
        samples.JobSampleScoresApi.as_view(),
        name="api-job-sample-scores",
    ),
    path(
        "jobs/<slug:uid>/samples/export",
        samples.JobSamplesExportApi.as_view(),
        name="api-job-samples-export",
    ),
    path(
        "jobs/<slug:uid>/checkpoints",
        samples.JobCheckpointsApi.as_view(),
        name="api-job-checkpoints",
    ),
    path("training/losses", metrics.TrainingLossesApi.as_view(), name="api-training-losses"),
    path(
        "training/resources", resources.ResourceSeriesApi.as_view(), name="api-training-resources"
    ),
    path(
        "training/status/<slug:uid>",
        status.TrainingStatusApi.as_view(),
        name="api-training-status",
    ),
    path("training/summary", status.TrainingSummaryApi.as_view(), name="api-training-summary"),
    path("resources", resources.ResourceIngestApi.as_view(), name="api-resources"),
    path("projects", projects.ProjectListApi.as_view(), name="api-projects"),
    path(
        "projects/<slug:slug>/members",
        projects.ProjectMembersApi.as_view(),
        name="api-project-members",
    ),
    path(
        "projects/<slug:slug>/members/<str:username>",
        projects.ProjectMemberApi.as_view(),
        name="api-project-member",
    ),
    path("jobs/<slug:uid>/report", reports.JobReportApi.as_view(), name="api-job-report"),
    path("compare/report", reports.CompareReportApi.as_view(), name="api-compare-report"),
    path("query/check", jobs.QueryCheckApi.as_view(), name="api-query-check"),
    path("views", saved_views.SavedViewListApi.as_view(), name="api-views"),
    path("views/<int:view_id>", saved_views.SavedViewApi.as_view(), name="api-view"),
    path("alert-channels", alerts.AlertChannelListApi.as_view(), name="api-alert-channels"),
    path(
        "alert-channels/<int:channel_id>",
        alerts.AlertChannelApi.as_view(),
        name="api-alert-channel",
    ),
    path(
        "alert-channels/<int:channel_id>/test",
        alerts.AlertChannelTestApi.as_view(),
        name="api-alert-channel-test",
    ),
    path("alert-rules", alerts.AlertRuleListApi.as_view(), name="api-alert-rules"),
    path("alert-rules/<int:rule_id>", alerts.AlertRuleApi.as_view(), name="api-alert-rule"),
    path("alerts", alerts.FiredAlertListApi.as_view(), name="api-alerts"),
    path("alerts/read", alerts.FiredAlertReadApi.as_view(), name="api-alerts-read"),
    path("alerts/firing", alerts.FiringAlertsApi.as_view(), name="api-alerts-firing"),
    path("jobs/<slug:uid>/comments", comments.JobCommentsApi.as_view(), name="api-job-comments"),
    path(
        "jobs/<slug:uid>/comments/<str:comment_id>",
        comments.JobCommentApi.as_view(),
        name="api-job-comment",
    ),
    path("notifications", comments.NotificationsApi.as_view(), name="api-notifications"),
    path(
        "notifications/read",
        comments.NotificationsReadApi.as_view(),
        name="api-notifications-read",
    ),
    path(
        "jobs/<slug:uid>/share-links",
        share_links.JobShareLinksApi.as_view(),
        name="api-job-share-links",
    ),
    path("share-links", share_links.ShareLinksApi.as_view(), name="api-share-links"),
    path("share-links/<str:link_id>", share_links.ShareLinkApi.as_view(), name="api-share-link"),
    path("projects/<slug:slug>/audit", audit.ProjectAuditApi.as_view(), name="api-project-audit"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
