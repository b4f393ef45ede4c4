"""Every write to jobs, stages, metrics, logs, tokens and alerts.

Fixtures, mock data, the simulator, the REST ingest API, the host agent and the admin all
end here. Each function validates its whole input first (raising `InvalidInput` with
every bad field named, DRF's error shape), stores it in one transaction, and pushes the
change to the job's Channels group after commit (messages built by `jobs.events`).

One module per entity; this package re-exports their public functions, so callers write
`services.metrics_ingest(...)` without knowing which module holds it.
"""

from jobs.core.validation import Conflict, InvalidInput

from .alert_firing import (
    alert_delivery_claim,
    alert_delivery_result,
    alert_fire,
    alert_resolve,
    alert_rules_active,
    rule_in_scope,
)
from .alert_rules import (
    alert_channel_create,
    alert_channel_delete,
    alert_rule_create,
    alert_rule_delete,
    alert_rule_update,
    fired_alerts_mark_read,
)
from .alerts import alert_delivery_record, alerts_sync
from .audit import audit_record
from .bulk import BULK_ACTIONS, BULK_MAX, bulk_clean, jobs_bulk
from .comments import (
    comment_create,
    comment_delete,
    comment_edit,
    comment_may_delete,
    comment_may_edit,
    comment_may_write,
    notifications_mark_read,
)
from .jobs import (
    job_create,
    job_delete,
    job_describe,
    job_edit,
    job_history_clear,
    job_status_update,
    job_update_details,
    request_stop,
    uid_generate,
)
from .logs import logs_ingest
from .metrics import LOSS_KEY, SPARKLINE_POINTS, metrics_ingest
from .projects import member_remove, member_set, project_create, project_rename
from .samples import (
    MAX_SAMPLE_META_BYTES,
    MAX_SAMPLE_TEXT,
    MAX_SAMPLES_PER_BATCH,
    checkpoint_record,
    samples_ingest,
)
from .saved_views import saved_view_delete, saved_view_save
from .share_links import share_link_create, share_link_revoke
from .sign_in import sign_in_identity_user
from .stages import stage_move
from .tokens import token_create, token_revoke
from .trash import (
    PURGE_BATCH,
    PURGE_DUTY,
    PURGE_PASS_BATCHES,
    job_restore,
    job_trash,
    trash_cutoff,
    trash_purge,
)

__all__ = [
    "BULK_ACTIONS",
    "BULK_MAX",
    "LOSS_KEY",
    "MAX_SAMPLES_PER_BATCH",
    "MAX_SAMPLE_META_BYTES",
    "MAX_SAMPLE_TEXT",
    "PURGE_BATCH",
    "PURGE_DUTY",
    "PURGE_PASS_BATCHES",
    "SPARKLINE_POINTS",
    "Conflict",
    "InvalidInput",
    "alert_channel_create",
    "alert_channel_delete",
    "alert_delivery_claim",
    "alert_delivery_record",
    "alert_delivery_result",
    "alert_fire",
    "alert_resolve",
    "alert_rule_create",
    "alert_rule_delete",
    "alert_rule_update",
    "alert_rules_active",
    "alerts_sync",
    "audit_record",
    "bulk_clean",
    "checkpoint_record",
    "comment_create",
    "comment_delete",
    "comment_edit",
    "comment_may_delete",
    "comment_may_edit",
    "comment_may_write",
    "fired_alerts_mark_read",
    "job_create",
    "job_delete",
    "job_describe",
    "job_edit",
    "job_history_clear",
    "job_restore",
    "job_status_update",
    "job_trash",
    "job_update_details",
    "jobs_bulk",
    "logs_ingest",
    "member_remove",
    "member_set",
    "metrics_ingest",
    "notifications_mark_read",
    "project_create",
    "project_rename",
    "request_stop",
    "rule_in_scope",
    "samples_ingest",
    "saved_view_delete",
    "saved_view_save",
    "share_link_create",
    "share_link_revoke",
    "sign_in_identity_user",
    "stage_move",
    "token_create",
    "token_revoke",
    "trash_cutoff",
    "trash_purge",
    "uid_generate",
]
