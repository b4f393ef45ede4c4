"""Query parameters of the API's reads: metric series, losses, logs, export, resources."""

from rest_framework import serializers

from jobs.selectors import DEFAULT_MAX_POINTS, LOG_PAGE_DEFAULT, MAX_POINTS_CAP, log_levels_at_least

from .fields import TimeInputField


class MaxPointsMixin(serializers.Serializer):
    max_points = serializers.IntegerField(
        required=False,
        default=DEFAULT_MAX_POINTS,
        min_value=10,
        help_text=f"Points per series (default {DEFAULT_MAX_POINTS}; above {MAX_POINTS_CAP} "
        f"counts as {MAX_POINTS_CAP}).",
    )

    def validate_max_points(self, value):
        return min(value, MAX_POINTS_CAP)


class MetricsQuery(MaxPointsMixin):
    keys = serializers.CharField(
        required=False,
        help_text="Comma-separated metric keys; default: every key of the job.",
    )
    since_step = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Only points with a greater step (incremental live reads).",
    )

    def validate_keys(self, value):
        keys = [key.strip() for key in value.split(",") if key.strip()]
        if len(keys) > 100:
            raise serializers.ValidationError("At most 100 keys.")
        return keys


class LossesQuery(MetricsQuery):
    job = serializers.SlugField(help_text="Job uid.")
    keys = None


class LogsQuery(serializers.Serializer):
    after_seq = serializers.IntegerField(
        required=False, allow_null=True, help_text="Only lines with a greater seq."
    )
    level = serializers.CharField(
        required=False,
        help_text="Minimum level: DEBUG, INFO, WARNING, ERROR or CRITICAL (this level and above).",
    )
    q = serializers.CharField(
        required=False, max_length=200, help_text="Case-insensitive text the message contains."
    )
    limit = serializers.IntegerField(
        required=False,
        default=LOG_PAGE_DEFAULT,
        min_value=1,
        help_text=f"Lines per page (default {LOG_PAGE_DEFAULT}, at most 5000).",
    )
    tail = serializers.BooleanField(
        required=False, default=False, help_text="Return the newest `limit` lines."
    )

    def validate_level(self, value):
        try:
            log_levels_at_least(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_limit(self, value):
        return min(value, 5000)


class ExportQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "json"], default="csv", required=False)


class ResourcesQuery(MaxPointsMixin):
    job = serializers.SlugField(required=False, help_text="Job uid (samples linked to it).")
    host = serializers.CharField(required=False, max_length=255, help_text="Host name.")
    since = TimeInputField(required=False, help_text="Only samples after this time.")

    def validate(self, attrs):
        if bool(attrs.get("job")) == bool(attrs.get("host")):
            raise serializers.ValidationError({"job": ["Give exactly one of job or host."]})
        return attrs


class ReportQuery(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=["html", "pdf"],
        default="html",
        required=False,
        help_text="html: one self-contained file that opens offline; pdf: printed by the "
        "server's headless Chromium (501 without one).",
    )
    paper = serializers.ChoiceField(
        choices=["a4", "letter"],
        default="a4",
        required=False,
        help_text="Page size of the PDF (and of printing the HTML).",
    )


class JobReportQuery(ReportQuery):
    notes = serializers.BooleanField(
        required=False, default=False, help_text="Include the job's notes."
    )


class CompareReportQuery(ReportQuery):
    jobs = serializers.CharField(help_text="2 to 8 comma-separated job uids, in legend order.")
