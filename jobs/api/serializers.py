"""Input and output serializers of the HTTP API.

Input serializers check the shape of a request (types, required fields, choices); the
service functions then validate the content and store it, so batches of points, lines
and samples are passed through whole (`BatchField`) and checked once, by the service,
with every bad item named by index and field.

Output serializers describe the JSON the views return. The views build those bodies
from `jobs.payloads` / `jobs.selectors` (the same shapes the WebSocket pushes), so the
output serializers exist for the OpenAPI schema; tests check bodies against it.
"""

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.core.validation import parse_time
from jobs.models import JobStatus, StageName, StageStatus
from jobs.selectors import DEFAULT_MAX_POINTS, LOG_PAGE_DEFAULT, MAX_POINTS_CAP, log_levels_at_least

NON_FINITE_VALUE = {
    "oneOf": [
        {"type": "number"},
        {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
    ],
    "nullable": True,
    "description": 'A number; NaN and ±inf as the strings "NaN", "Infinity", "-Infinity".',
}
TIME_INPUT = {
    "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
    "description": "ISO 8601 date-time or Unix timestamp (seconds); default: now.",
}


@extend_schema_field(NON_FINITE_VALUE)
class MetricValueField(serializers.Field):
    """A metric value as the API returns it (documentation only)."""

    def to_representation(self, value):
        return value


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string", "example": "nan"}]})
class MetricValueInputField(serializers.JSONField):
    """A reported metric value; `jobs.services.parse_value` checks it."""


@extend_schema_field(TIME_INPUT)
class TimeInputField(serializers.Field):
    """An ISO 8601 datetime or a Unix timestamp, parsed like the services parse times."""

    def to_internal_value(self, data):
        try:
            return parse_time(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return value


class BatchField(serializers.ListField):
    """A list handed to a service unparsed: only its type and length are checked here.

    The service validates every item (naming the bad ones by index and field) and stores
    the batch whole or not at all; parsing 10 000 items twice would only cost time.
    """

    def __init__(self, *, item_serializer, **kwargs):
        # The child documents the items in the schema; it does not parse them.
        super().__init__(child=item_serializer(), allow_empty=True, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, (str, dict)) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        data = list(data)
        if self.max_length is not None and len(data) > self.max_length:
            raise serializers.ValidationError(
                f"At most {self.max_length} items per batch, got {len(data)}."
            )
        return data


def _finite_json(value, path="config"):
    """Raise ValidationError for NaN/±inf anywhere in a JSON value (PostgreSQL rejects them)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise serializers.ValidationError(f"{path}: NaN and Infinity are not allowed here.")
    if isinstance(value, dict):
        for key, item in value.items():
            _finite_json(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _finite_json(item, f"{path}[{index}]")


# --- write inputs ----------------------------------------------------------------------


class JobCreateInput(serializers.Serializer):
    uid = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=64,
        help_text="URL-safe id (letters, digits, - and _); generated from the name if absent. "
        "An existing uid returns that job unchanged (200).",
    )
    name = serializers.CharField(max_length=200)
    model = serializers.CharField(required=False, allow_blank=True, max_length=200)
    dataset = serializers.CharField(required=False, allow_blank=True, max_length=200)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    config = serializers.DictField(
        required=False, help_text="Hyper-parameters; `num_gpus` counts toward GPU-hours."
    )
    total_steps = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    total_epochs = serializers.FloatField(required=False, allow_null=True, min_value=0)
    host = serializers.CharField(required=False, allow_blank=True, max_length=255)

    def validate_config(self, value):
        _finite_json(value)
        return value


class MetricPointInput(serializers.Serializer):
    key = serializers.CharField(max_length=128, help_text="e.g. train/loss, val/accuracy")
    step = serializers.IntegerField(min_value=0)
    value = MetricValueInputField(
        help_text='A number, or NaN/Infinity as JSON tokens or the strings "nan", "inf", "-inf".'
    )
    epoch = serializers.FloatField(required=False, allow_null=True, min_value=0)
    time = TimeInputField(required=False)


class MetricsBatchInput(serializers.Serializer):
    points = BatchField(
        item_serializer=MetricPointInput,
        max_length=10_000,
        help_text="Up to 10 000 points, stored together or not at all. A repeated "
        "(key, step) replaces the stored value.",
    )


class LogLineInput(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0, help_text="Unique per job; known seqs are ignored.")
    message = serializers.CharField(allow_blank=True)
    level = serializers.ChoiceField(
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], required=False, default="INFO"
    )
    time = TimeInputField(required=False)


class LogsBatchInput(serializers.Serializer):
    lines = BatchField(item_serializer=LogLineInput, max_length=5000)


class StageMoveInput(serializers.Serializer):
    stage = serializers.ChoiceField(choices=StageName.choices)
    status = serializers.ChoiceField(choices=StageStatus.choices)
    progress = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=100)
    message = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=500
    )
    time = TimeInputField(required=False)


class JobErrorInput(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True)
    type = serializers.CharField(required=False, allow_blank=True)
    traceback = serializers.CharField(required=False, allow_blank=True)
    stage = serializers.ChoiceField(choices=StageName.choices, required=False, allow_null=True)
    step = serializers.IntegerField(required=False, allow_null=True, min_value=0)


@extend_schema_field({"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/JobError"}]})
class ErrorInputField(serializers.JSONField):
    """A failure as a message string or an object; the service validates its parts."""


class StatusUpdateInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False, allow_null=True)
    progress = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=100)
    step = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    epoch = serializers.FloatField(required=False, allow_null=True, min_value=0)
    total_steps = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    host = serializers.CharField(required=False, allow_blank=True, max_length=255)
    error = ErrorInputField(required=False, allow_null=True)
    time = TimeInputField(required=False)


class GpuReadingInput(serializers.Serializer):
    index = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False)
    util = serializers.FloatField(required=False, help_text="percent")
    mem_used = serializers.FloatField(required=False, help_text="bytes")
    mem_total = serializers.FloatField(required=False, help_text="bytes")
    temp = serializers.FloatField(required=False, help_text="°C")
    power = serializers.FloatField(required=False, help_text="W")
    power_limit = serializers.FloatField(required=False, help_text="W")


class ResourceSampleInput(serializers.Serializer):
    time = TimeInputField(required=False)
    cpu_percent = serializers.FloatField(required=False)
    cpu_per_core = serializers.ListField(child=serializers.FloatField(), required=False)
    cpu_temp = serializers.FloatField(required=False)
    ram_used = serializers.IntegerField(required=False)
    ram_total = serializers.IntegerField(required=False)
    swap_used = serializers.IntegerField(required=False)
    swap_total = serializers.IntegerField(required=False)
    gpus = GpuReadingInput(many=True, required=False)
    disk_used = serializers.IntegerField(required=False)
    disk_total = serializers.IntegerField(required=False)
    disk_read_rate = serializers.FloatField(required=False, help_text="bytes/s")
    disk_write_rate = serializers.FloatField(required=False, help_text="bytes/s")
    net_rx_rate = serializers.FloatField(required=False, help_text="bytes/s")
    net_tx_rate = serializers.FloatField(required=False, help_text="bytes/s")


class ResourceBatchInput(serializers.Serializer):
    host = serializers.CharField(max_length=255)
    job = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="Uid of the job the samples belong to; default: the jobs running on host.",
    )
    samples = BatchField(item_serializer=ResourceSampleInput, max_length=1000)


# --- query parameters ------------------------------------------------------------------


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


# --- outputs ---------------------------------------------------------------------------


class JobErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    traceback = serializers.CharField()
    stage = serializers.ChoiceField(choices=StageName.choices, allow_null=True)
    step = serializers.IntegerField(allow_null=True)

    class Meta:
        ref_name = "JobError"


class JobCardOutput(serializers.Serializer):
    """`jobs.payloads.job_card`: the job in lists, cards and `status`/`job` pushes."""

    uid = serializers.CharField()
    name = serializers.CharField()
    model = serializers.CharField()
    dataset = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=JobStatus.choices)
    progress = serializers.FloatField(help_text="0–100")
    current_step = serializers.IntegerField()
    total_steps = serializers.IntegerField(allow_null=True)
    epoch = serializers.FloatField()
    total_epochs = serializers.FloatField(allow_null=True)
    queue_position = serializers.IntegerField(allow_null=True)
    host = serializers.CharField()
    stage = serializers.ChoiceField(
        choices=StageName.choices, allow_null=True, help_text="The active (or failed) stage."
    )
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    last_heartbeat = serializers.DateTimeField(allow_null=True)
    duration = serializers.FloatField(allow_null=True, help_text="Seconds since start.")
    latest_loss = MetricValueField(allow_null=True)
    loss_sparkline = serializers.ListField(
        child=serializers.ListField(child=MetricValueField()),
        help_text="[[step, value], ...] of train/loss, at most 64 points.",
    )
    error = JobErrorSerializer(allow_null=True)
    url = serializers.CharField()


class StageOutput(serializers.Serializer):
    name = serializers.ChoiceField(choices=StageName.choices)
    label = serializers.CharField()
    order = serializers.IntegerField()
    status = serializers.ChoiceField(choices=StageStatus.choices)
    progress = serializers.FloatField()
    message = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration = serializers.FloatField(allow_null=True)


class LatestMetricOutput(serializers.Serializer):
    step = serializers.IntegerField()
    value = MetricValueField()
    epoch = serializers.FloatField(allow_null=True)
    time = serializers.DateTimeField()


class GpuReadingOutput(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.CharField()
    util = serializers.FloatField(allow_null=True)
    mem_used = serializers.FloatField(allow_null=True)
    mem_total = serializers.FloatField(allow_null=True)
    temp = serializers.FloatField(allow_null=True)
    power = serializers.FloatField(allow_null=True)
    power_limit = serializers.FloatField(allow_null=True)


class ResourceSampleOutput(serializers.Serializer):
    """`monitoring.models.ResourceSample.to_dict`."""

    host = serializers.CharField()
    time = serializers.DateTimeField()
    job = serializers.CharField(allow_null=True)
    resolution = serializers.CharField(
        help_text='"raw", "minute", or "bucket-min"/"bucket-max" in a downsampled series.'
    )
    cpu_percent = serializers.FloatField(allow_null=True)
    cpu_per_core = serializers.ListField(child=serializers.FloatField())
    cpu_temp = serializers.FloatField(allow_null=True)
    ram_used = serializers.IntegerField(allow_null=True)
    ram_total = serializers.IntegerField(allow_null=True)
    swap_used = serializers.IntegerField(allow_null=True)
    swap_total = serializers.IntegerField(allow_null=True)
    gpus = GpuReadingOutput(many=True)
    disk_used = serializers.IntegerField(allow_null=True)
    disk_total = serializers.IntegerField(allow_null=True)
    disk_read_rate = serializers.FloatField(allow_null=True)
    disk_write_rate = serializers.FloatField(allow_null=True)
    net_rx_rate = serializers.FloatField(allow_null=True)
    net_tx_rate = serializers.FloatField(allow_null=True)


class JobDetailOutput(JobCardOutput):
    config = serializers.DictField()
    notes = serializers.CharField()
    stages = StageOutput(many=True)
    latest_metrics = serializers.DictField(child=LatestMetricOutput())
    metric_keys = serializers.ListField(child=serializers.CharField())
    deployment = serializers.DictField(allow_null=True)
    step_rate = serializers.FloatField(
        allow_null=True, help_text="Steps/s over the last minute (running jobs)."
    )
    mean_step_rate = serializers.FloatField(
        allow_null=True, help_text="Steps/s from start to the last heartbeat or finish."
    )
    eta_seconds = serializers.FloatField(allow_null=True)
    resources = ResourceSampleOutput(
        allow_null=True, help_text="Newest resource sample (running jobs)."
    )


class DayCountOutput(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField()


class StatusCountsOutput(serializers.Serializer):
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class StatisticsOutput(serializers.Serializer):
    total = serializers.IntegerField()
    counts = StatusCountsOutput()
    success_rate = serializers.FloatField(
        allow_null=True, help_text="completed / (completed + failed + cancelled), 0–1."
    )
    mean_duration_seconds = serializers.FloatField(allow_null=True)
    gpu_hours = serializers.FloatField()
    jobs_per_day = DayCountOutput(many=True, help_text="The last 30 UTC days, oldest first.")


class SeriesOutput(serializers.Serializer):
    points = serializers.ListField(
        child=serializers.ListField(child=MetricValueField()),
        help_text="[[step, value, epoch], ...] ordered by step.",
    )
    total = serializers.IntegerField(help_text="Points of the key in range.")
    downsampled = serializers.BooleanField()


class MetricSeriesOutput(serializers.Serializer):
    job = serializers.CharField()
    max_points = serializers.IntegerField()
    since_step = serializers.IntegerField(allow_null=True)
    series = serializers.DictField(child=SeriesOutput())


class LogLineOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    time = serializers.DateTimeField()
    level = serializers.CharField()
    message = serializers.CharField()


class LogPageOutput(serializers.Serializer):
    job = serializers.CharField()
    lines = LogLineOutput(many=True)
    next_after_seq = serializers.IntegerField(
        allow_null=True, help_text="Set when the page is full: pass as after_seq for more."
    )
    last_seq = serializers.IntegerField(
        allow_null=True, help_text="Seq of the last line returned: poll after it."
    )


class ExportPointOutput(serializers.Serializer):
    key = serializers.CharField()
    step = serializers.IntegerField()
    epoch = serializers.FloatField(allow_null=True)
    value = MetricValueField()
    time = serializers.DateTimeField()


class AcceptedOutput(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Items stored (or replaced).")


class StageMoveOutput(serializers.Serializer):
    stage = StageOutput()
    job = JobCardOutput()


class JobStatusOutput(serializers.Serializer):
    job = JobCardOutput()


class TrainingStatusOutput(serializers.Serializer):
    uid = serializers.CharField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    stage = serializers.CharField(allow_null=True)
    progress = serializers.FloatField()
    current_step = serializers.IntegerField()
    total_steps = serializers.IntegerField(allow_null=True)
    epoch = serializers.FloatField()
    total_epochs = serializers.FloatField(allow_null=True)
    queue_position = serializers.IntegerField(allow_null=True)
    step_rate = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    last_heartbeat = serializers.DateTimeField(allow_null=True)
    error = JobErrorSerializer(allow_null=True)


class RunningJobSummaryOutput(serializers.Serializer):
    uid = serializers.CharField()
    name = serializers.CharField()
    model = serializers.CharField()
    progress = serializers.FloatField()
    current_step = serializers.IntegerField()
    total_steps = serializers.IntegerField(allow_null=True)
    latest_loss = MetricValueField(allow_null=True)
    latest_val_loss = MetricValueField(allow_null=True)
    step_rate = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True)
    gpu_util = serializers.FloatField(allow_null=True)
    last_heartbeat = serializers.DateTimeField(allow_null=True)


class TrainingSummaryOutput(serializers.Serializer):
    running = serializers.IntegerField()
    queued = serializers.IntegerField()
    mean_gpu_util = serializers.FloatField(allow_null=True)
    throughput_steps_per_second = serializers.FloatField()
    jobs = RunningJobSummaryOutput(many=True)


class ResourceSeriesOutput(serializers.Serializer):
    job = serializers.CharField(allow_null=True)
    host = serializers.CharField(allow_null=True)
    max_points = serializers.IntegerField()
    total = serializers.IntegerField()
    downsampled = serializers.BooleanField()
    samples = ResourceSampleOutput(many=True)


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()


ValidationErrorOutput = OpenApiTypes.OBJECT
