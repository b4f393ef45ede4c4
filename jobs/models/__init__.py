"""The domain's tables: jobs and stages, metric points and rollups, log lines, alerts,
alert rules and channels.

API tokens live in `jobs.accounts.models` and are registered here, under the `jobs` app.
"""

from jobs.accounts.models import (
    ApiToken,
    Membership,
    Project,
    Role,
    ShareLink,
    SignInIdentity,
    role_at_least,
    token_hash,
)

from .alerts import Alert
from .collab import AuditEvent, Comment, Notification, NotificationKind
from .job import (
    CURRENT_STATUSES,
    FINISHED_STATUSES,
    STAGE_ORDER,
    TRASH_DAYS,
    Job,
    JobStatus,
    Stage,
    StageName,
    StageStatus,
)
from .logs import LogEntry, LogLevel
from .metrics import MetricPoint, MetricRollup, MetricSummary, loss_like
from .rules import (
    SEVERITY_RANK,
    AlertChannel,
    AlertDelivery,
    AlertRule,
    AlertRulesVersion,
    ChannelKind,
    ConditionType,
    DeliveryEvent,
    FiredAlert,
    FiredAlertRead,
    RuleAction,
    Severity,
    condition_words,
)
from .samples import Checkpoint, Sample, prompt_hash_of
from .saved_views import SavedView

__all__ = [
    "CURRENT_STATUSES",
    "FINISHED_STATUSES",
    "SEVERITY_RANK",
    "STAGE_ORDER",
    "TRASH_DAYS",
    "Alert",
    "AlertChannel",
    "AlertDelivery",
    "AlertRule",
    "AlertRulesVersion",
    "ApiToken",
    "AuditEvent",
    "ChannelKind",
    "Checkpoint",
    "Comment",
    "ConditionType",
    "DeliveryEvent",
    "FiredAlert",
    "FiredAlertRead",
    "Job",
    "JobStatus",
    "LogEntry",
    "LogLevel",
    "Membership",
    "MetricPoint",
    "MetricRollup",
    "MetricSummary",
    "Notification",
    "NotificationKind",
    "Project",
    "Role",
    "RuleAction",
    "Sample",
    "SavedView",
    "Severity",
    "ShareLink",
    "SignInIdentity",
    "Stage",
    "StageName",
    "StageStatus",
    "condition_words",
    "loss_like",
    "prompt_hash_of",
    "role_at_least",
    "token_hash",
]
