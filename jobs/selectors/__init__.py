"""Reads of jobs, metrics and logs that need care: bounded queries, database downsampling.

Every function here reads a bounded number of rows into Python whatever the size of
the job: lists use a fixed number of queries, series are downsampled by SQL window
functions or rollups, exports stream through `.iterator()`. One module per entity; this
package re-exports their public names.
"""

from .alerts import alert_open_findings
from .failures import (
    TOP_FAILURE_DAYS,
    failure_earlier,
    failure_next_success,
    failure_top_signatures,
)
from .jobs import (
    STATISTICS_DAYS,
    current_jobs_queryset,
    job_by_uid,
    job_by_uids,
    job_detail,
    job_filter_options,
    job_list_page,
    job_list_queryset,
    job_mean_step_rate,
    job_queryset,
    job_statistics,
    job_step_rate,
    job_training_status,
    jobs_in,
    past_jobs_queryset,
)
from .logs import LOG_LEVELS, LOG_PAGE_DEFAULT, LOG_PAGE_MAX, log_levels_at_least, log_page
from .metrics import (
    DEFAULT_MAX_POINTS,
    LOSS_KEYS,
    MAX_POINTS_CAP,
    STEP_CLOCK_BUCKETS,
    metric_best_point,
    metric_export_rows,
    metric_first_step,
    metric_key_counts,
    metric_keys,
    metric_previous_values,
    metric_series,
    metric_step_clock,
)
from .samples import (
    SAMPLE_PAGE_DEFAULT,
    SAMPLE_PAGE_MAX,
    checkpoint_list,
    sample_cursor_parse,
    sample_export_rows,
    sample_page,
    sample_prompts,
    sample_scores,
)

__all__ = [
    "DEFAULT_MAX_POINTS",
    "LOG_LEVELS",
    "LOG_PAGE_DEFAULT",
    "LOG_PAGE_MAX",
    "LOSS_KEYS",
    "MAX_POINTS_CAP",
    "SAMPLE_PAGE_DEFAULT",
    "SAMPLE_PAGE_MAX",
    "STATISTICS_DAYS",
    "STEP_CLOCK_BUCKETS",
    "TOP_FAILURE_DAYS",
    "alert_open_findings",
    "checkpoint_list",
    "current_jobs_queryset",
    "failure_earlier",
    "failure_next_success",
    "failure_top_signatures",
    "job_by_uid",
    "job_by_uids",
    "job_detail",
    "job_filter_options",
    "job_list_page",
    "job_list_queryset",
    "job_mean_step_rate",
    "job_queryset",
    "job_statistics",
    "job_step_rate",
    "job_training_status",
    "jobs_in",
    "log_levels_at_least",
    "log_page",
    "metric_best_point",
    "metric_export_rows",
    "metric_first_step",
    "metric_key_counts",
    "metric_keys",
    "metric_previous_values",
    "metric_series",
    "metric_step_clock",
    "past_jobs_queryset",
    "sample_cursor_parse",
    "sample_export_rows",
    "sample_page",
    "sample_prompts",
    "sample_scores",
]
