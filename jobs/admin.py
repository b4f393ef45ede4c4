"""The admin: inspect everything; every change goes through the services.

Jobs are created by their reporters (the API, the client, fixtures), so the admin does not
add them. Of a job, tags and notes are editable (`services.job_update_details`, pushed
live like any edit); status moves through the "Cancel" action (`job_status_update`);
deletion through `job_delete`. Everything else, stages included, is shown read-only.
"""

from django.contrib import admin, messages
from django.utils.html import format_html

from . import services
from .models import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    ApiToken,
    AuditEvent,
    Comment,
    FiredAlert,
    Job,
    LogEntry,
    MetricPoint,
    ShareLink,
    SignInIdentity,
    Stage,
)


def _duration(seconds):
    if seconds is None:
        return "—"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    can_delete = False
    max_num = 5
    fields = ("order", "name", "status", "progress", "message", "started_at", "finished_at")
    readonly_fields = fields
    ordering = ("order",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        tags = set()
        for job_tags in Job.objects.values_list("tags", flat=True)[:2000]:
            tags.update(job_tags or [])
        return [(tag, tag) for tag in sorted(tags)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(tags_text__contains=f",{self.value()},")
        return queryset


class ModelFilter(admin.SimpleListFilter):
    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        models = Job.objects.order_by().values_list("base_model", flat=True).distinct()
        return [(m, m) for m in sorted(models) if m]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(base_model=self.value())
        return queryset


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "uid",
        "name",
        "status",
        "base_model",
        "dataset",
        "progress_display",
        "started_at",
        "duration_display",
    )
    list_filter = ("status", ModelFilter, TagFilter)
    search_fields = ("uid", "name", "base_model", "dataset")
    date_hierarchy = "created_at"
    list_per_page = 50
    inlines = [StageInline]
    # What the admin may change goes through services; the rest is the reporters' record.
    editable_fields = ("tags", "notes")
    actions = ["cancel"]
    fieldsets = (
        (None, {"fields": ("uid", "name", "base_model", "dataset", "tags", "notes", "config")}),
        (
            "Progress",
            {
                "fields": (
                    "status",
                    "progress",
                    "current_step",
                    "total_steps",
                    "epoch",
                    "total_epochs",
                    "queue_position",
                    "host",
                )
            },
        ),
        ("Timing", {"fields": ("created_at", "started_at", "finished_at", "last_heartbeat")}),
        (
            "Error",
            {
                "classes": ("collapse",),
                "fields": (
                    "error_type",
                    "error_message",
                    "error_stage",
                    "error_step",
                    "error_traceback",
                ),
            },
        ),
        (
            "Deployment and summaries",
            {
                "classes": ("collapse",),
                "fields": ("deployment", "latest_metrics", "loss_sparkline"),
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        return [
            name
            for fieldset in self.fieldsets
            for name in fieldset[1]["fields"]
            if name not in self.editable_fields
        ]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        if changed:
            services.job_update_details(job=obj, actor=request.user, **changed)

    def delete_model(self, request, obj):
        services.job_delete(job=obj)

    def delete_queryset(self, request, queryset):
        for job in queryset:
            services.job_delete(job=job)

    @admin.action(description="Cancel selected queued or running jobs")
    def cancel(self, request, queryset):
        cancelled = 0
        for job in queryset.filter(status__in=("queued", "running")):
            services.job_status_update(job=job, status="cancelled")
            cancelled += 1
        self.message_user(request, f"Cancelled {cancelled} job(s).")

    @admin.display(description="progress", ordering="progress")
    def progress_display(self, job):
        return f"{job.progress:.0f}%"

    @admin.display(description="duration")
    def duration_display(self, job):
        return _duration(job.duration)


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ("job", "name", "status", "progress", "started_at", "finished_at")
    list_filter = ("status", "name")
    raw_id_fields = ("job",)
    list_select_related = ("job",)
    list_per_page = 100
    search_fields = ("job__uid",)


@admin.register(MetricPoint)
class MetricPointAdmin(admin.ModelAdmin):
    list_display = ("job", "key", "step", "epoch", "value", "wall_time")
    raw_id_fields = ("job",)
    list_select_related = ("job",)
    search_fields = ("job__uid", "key")
    list_per_page = 100
    show_full_result_count = False
    ordering = ("-id",)


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    list_display = ("job", "seq", "time", "level", "short_message")
    list_filter = ("level",)
    raw_id_fields = ("job",)
    list_select_related = ("job",)
    search_fields = ("job__uid", "message")
    date_hierarchy = "time"
    list_per_page = 100
    show_full_result_count = False
    ordering = ("-id",)

    @admin.display(description="message")
    def short_message(self, entry):
        return entry.message[:120]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "expires_at", "state")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    fields = (
        "user",
        "name",
        "expires_at",
        "job_scope",
        "tag_prefixes",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke"]

    @admin.display(description="state")
    def state(self, token):
        if token.revoked_at:
            return format_html('<span style="color:#dc2626">revoked</span>')
        return "active" if token.is_active else "expired"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw = services.token_create(
            user=obj.user,
            name=obj.name,
            job_scope=obj.job_scope,
            tag_prefixes=obj.tag_prefixes,
            expires_at=obj.expires_at,
            actor=request.user,
        )
        obj.pk = token.pk
        obj.prefix, obj.key_hash = token.prefix, token.key_hash
        messages.warning(request, f"New token (shown once, copy it now): {raw}")

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.token_revoke(token=token, actor=request.user)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")


# --- alert rules, channels, fired alerts and their delivery log ---------------------------------
# Read-only here: users manage rules and channels on /settings/alerts (and the API), through
# the services that validate them and refresh every process's rule set; a delete is allowed.


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertChannel)
class AlertChannelAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "target", "owner", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "target", "owner__username")
    # The webhook secret is never shown again after its creation.
    exclude = ("secret",)


@admin.register(AlertRule)
class AlertRuleAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "owner",
        "project",
        "condition_text",
        "severity",
        "action",
        "cooldown_minutes",
        "active",
    )
    list_filter = ("condition_type", "severity", "action", "active", "project")
    search_fields = ("name", "owner__username")

    @admin.display(description="condition")
    def condition_text(self, rule):
        return rule.describe()

    def delete_model(self, request, obj):
        services.alert_rule_delete(owner=request.user, rule_id=obj.pk, as_admin=True)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            services.alert_rule_delete(owner=request.user, rule_id=rule.pk, as_admin=True)


class AlertDeliveryInline(admin.TabularInline):
    model = AlertDelivery
    extra = 0
    can_delete = False
    fields = ("channel", "event", "attempts", "last_error", "next_attempt_at", "delivered_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(FiredAlert)
class FiredAlertAdmin(ReadOnlyAdmin):
    list_display = ("rule", "job", "episode", "value", "fired_at", "resolved_at", "delivered")
    list_filter = ("rule__condition_type",)
    search_fields = ("rule__name", "job__uid", "message")
    inlines = [AlertDeliveryInline]
    list_select_related = ("rule", "job")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("deliveries")

    @admin.display(description="delivered", boolean=True)
    def delivered(self, alert):
        return all(delivery.delivered_at for delivery in alert.deliveries.all())


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "action", "project", "job_uid", "actor", "token")
    list_filter = ("action", "project")
    search_fields = ("job_uid", "actor__username", "action")
    date_hierarchy = "at"
    list_select_related = ("project", "actor", "token")

    def has_delete_permission(self, request, obj=None):
        return False  # the trail is kept whole


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdmin):
    list_display = ("id", "job", "author", "step", "created_at", "edited_at")
    search_fields = ("job__uid", "author__username", "body")
    list_select_related = ("job", "author")

    def delete_model(self, request, obj):
        services.comment_delete(comment=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for comment in queryset.select_related("job"):
            services.comment_delete(comment=comment, actor=request.user)


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdmin):
    list_display = ("id", "project", "uids", "created_by", "created_at", "expires_at", "state")
    list_filter = ("project",)
    list_select_related = ("project", "created_by")
    exclude = ("key_hash",)
    actions = ["revoke"]

    @admin.display(description="State")
    def state(self, link):
        if link.revoked_at:
            return "revoked"
        return "active" if link.is_active else "expired"

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit trail keeps the link's history

    @admin.action(description="Revoke selected share links")
    def revoke(self, request, queryset):
        for link in queryset:
            services.share_link_revoke(link=link, actor=request.user)
        self.message_user(request, f"Revoked {queryset.count()} share link(s).")


@admin.register(SignInIdentity)
class SignInIdentityAdmin(ReadOnlyAdmin):
    """Accounts made by single sign-on and the provider's subject each signs in as."""

    list_display = ("user", "issuer", "subject", "created_at", "last_sign_in_at")
    search_fields = ("user__username", "subject")
    list_select_related = ("user",)
