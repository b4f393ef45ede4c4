"""The domain's tables: jobs and stages, metric points and rollups, log lines, alerts.

API tokens live in `jobs.accounts.models` and are registered here, under the `jobs` app.
"""

from jobs.accounts.models import (
    ApiToken,
    Membership,
    Project,
    Role,
    ShareLink,
    role_at_least,
    token_hash,
)

from .alerts import Alert
from .collab import AuditEvent, Comment, Notification, NotificationKind
from .job import (
    CURRENT_STATUSES,
    FINISHED_STATUSES,
    STAGE_ORDER,
    Job,
    JobStatus,
    Stage,
    StageName,
    StageStatus,
)
from .logs import LogEntry, LogLevel
from .metrics import MetricPoint, MetricRollup

__all__ = [
    "CURRENT_STATUSES",
    "FINISHED_STATUSES",
    "STAGE_ORDER",
    "Alert",
    "ApiToken",
    "AuditEvent",
    "Comment",
    "Job",
    "JobStatus",
    "LogEntry",
    "LogLevel",
    "Membership",
    "MetricPoint",
    "MetricRollup",
    "Notification",
    "NotificationKind",
    "Project",
    "Role",
    "ShareLink",
    "Stage",
    "StageName",
    "StageStatus",
    "role_at_least",
    "token_hash",
]
