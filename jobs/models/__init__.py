"""The domain's tables: jobs and stages, metric points and rollups, log lines, alerts.

API tokens live in `jobs.accounts.models` and are registered here, under the `jobs` app.
"""

from jobs.accounts.models import (
    ApiToken,
    Membership,
    Project,
    Role,
    role_at_least,
    token_hash,
)

from .alerts import Alert
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
from .samples import Checkpoint, Sample, prompt_hash_of

__all__ = [
    "CURRENT_STATUSES",
    "FINISHED_STATUSES",
    "STAGE_ORDER",
    "Alert",
    "ApiToken",
    "Checkpoint",
    "Job",
    "JobStatus",
    "LogEntry",
    "LogLevel",
    "Membership",
    "MetricPoint",
    "MetricRollup",
    "Project",
    "Role",
    "Sample",
    "Stage",
    "StageName",
    "StageStatus",
    "prompt_hash_of",
    "role_at_least",
    "token_hash",
]
