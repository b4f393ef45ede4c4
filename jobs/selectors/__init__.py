"""Reads of jobs, metrics and logs that need care: bounded queries, database downsampling.

Every function here reads a bounded number of rows into Python whatever the size of
the job: lists use a fixed number of queries, series are downsampled by SQL window
functions or rollups, exports stream through `.iterator()`. One module per entity; this
package re-exports their public names.
"""

from .jobs import (
    STATISTICS_DAYS,
    current_jobs_queryset,
    job_detail,
    job_list_queryset,
    job_mean_step_rate,
    job_queryset,
    job_statistics,
    job_step_rate,
    job_training_status,
    past_jobs_queryset,
)
from .logs import LOG_LEVELS, LOG_PAGE_DEFAULT, LOG_PAGE_MAX, log_levels_at_least, log_page
from .metrics import (
    DEFAULT_MAX_POINTS,
    LOSS_KEYS,
    MAX_POINTS_CAP,
    metric_export_rows,
    metric_keys,
    metric_series,
)

__all__ = [
    "DEFAULT_MAX_POINTS",
    "LOG_LEVELS",
    "LOG_PAGE_DEFAULT",
    "LOG_PAGE_MAX",
    "LOSS_KEYS",
    "MAX_POINTS_CAP",
    "STATISTICS_DAYS",
    "current_jobs_queryset",
    "job_detail",
    "job_list_queryset",
    "job_mean_step_rate",
    "job_queryset",
    "job_statistics",
    "job_step_rate",
    "job_training_status",
    "log_levels_at_least",
    "log_page",
    "metric_export_rows",
    "metric_keys",
    "metric_series",
    "past_jobs_queryset",
]
