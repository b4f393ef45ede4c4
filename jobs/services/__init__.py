"""Every write to jobs, stages, metrics, logs, tokens and alerts.

Fixtures, mock data, the simulator, the REST ingest API, the host agent and the admin all
end here. Each function validates its whole input first (raising `InvalidInput` with
every bad field named, DRF's error shape), stores it in one transaction, and pushes the
change to the job's Channels group after commit (messages built by `jobs.events`).

One module per entity; this package re-exports their public functions, so callers write
`services.metrics_ingest(...)` without knowing which module holds it.
"""

from jobs.core.validation import Conflict, InvalidInput

from .alerts import alert_delivery_record, alerts_sync
from .jobs import (
    job_create,
    job_delete,
    job_history_clear,
    job_status_update,
    job_update_details,
    uid_generate,
)
from .logs import logs_ingest
from .metrics import LOSS_KEY, SPARKLINE_POINTS, metrics_ingest
from .projects import member_remove, member_set, project_create
from .samples import (
    MAX_SAMPLE_META_BYTES,
    MAX_SAMPLE_TEXT,
    MAX_SAMPLES_PER_BATCH,
    checkpoint_record,
    samples_ingest,
)
from .stages import stage_move
from .tokens import token_create, token_revoke

__all__ = [
    "LOSS_KEY",
    "MAX_SAMPLES_PER_BATCH",
    "MAX_SAMPLE_META_BYTES",
    "MAX_SAMPLE_TEXT",
    "SPARKLINE_POINTS",
    "Conflict",
    "InvalidInput",
    "alert_delivery_record",
    "alerts_sync",
    "checkpoint_record",
    "job_create",
    "job_delete",
    "job_history_clear",
    "job_status_update",
    "job_update_details",
    "logs_ingest",
    "member_remove",
    "member_set",
    "metrics_ingest",
    "project_create",
    "samples_ingest",
    "stage_move",
    "token_create",
    "token_revoke",
    "uid_generate",
]
