"""Response bodies of the API, for the OpenAPI schema: job cards and detail, statistics,
series, log pages, export rows, training status and summary, resource samples, errors."""

from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers

from jobs.models import JobStatus, StageName, StageStatus

from .fields import MetricValueField


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
    stop_requested = serializers.BooleanField(
        help_text="A stop was requested and the job has not ended yet."
    )
    synced_at = serializers.DateTimeField(
        allow_null=True, help_text="When events uploaded after the fact (`tuneboard sync`) arrived."
    )
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


class FindingOutput(serializers.Serializer):
    """`jobs.diagnostics.Finding.as_dict`: one diagnosis, as the job page shows it."""

    kind = serializers.CharField(help_text="The rule's code, e.g. cuda_oom, nan_loss, triage.")
    title = serializers.CharField()
    severity = serializers.ChoiceField(choices=["critical", "warning"])
    summary = serializers.CharField()
    stage = serializers.ChoiceField(
        choices=StageName.choices, allow_null=True, help_text="Where it failed (or happens)."
    )
    step = serializers.IntegerField(allow_null=True)
    evidence = serializers.DictField(
        help_text="The failure point and what shows it: stage, step, time, log "
        "({seq, level, message, time}), match, signature and source (catalogued failures), "
        "metric or resources (series rules)."
    )
    fixes = serializers.ListField(
        child=serializers.CharField(), help_text="Concrete changes, computed from the config."
    )
    doc = serializers.CharField(help_text="Documentation page for the fixes; may be empty.")
    code = serializers.CharField(help_text="Same as kind (the alerts' name for it).")
    suggested_fixes = serializers.ListField(
        child=serializers.CharField(), help_text="Same as fixes (the alerts' name for it)."
    )

    class Meta:
        ref_name = "Finding"


class JobDetailOutput(JobCardOutput):
    config = serializers.DictField()
    source = serializers.CharField(
        help_text='Where the job came from: "" (the Tuneboard client or API), "mlflow" (the '
        'MLflow tracking API), "import:<kind>" (manage.py import_runs).'
    )
    notes = serializers.CharField()
    description = serializers.CharField(help_text="One or two sentences under the name.")
    archived = serializers.BooleanField(
        help_text="Archived jobs leave the default lists; `archived:true` finds them."
    )
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
    findings = FindingOutput(
        many=True,
        help_text="A failed job's diagnosis, or another job's open alerts; [] otherwise. "
        "The same findings the job page shows.",
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
    stop_requested = serializers.BooleanField(
        help_text="Someone asked the job to stop: the client ends it as cancelled."
    )


class JobStopOutput(serializers.Serializer):
    stop_requested_at = serializers.DateTimeField()
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


class ResourceHostOutput(serializers.Serializer):
    """One host of a resource read (`monitoring.selectors.resource_hosts`)."""

    host = serializers.CharField()
    samples = serializers.IntegerField(help_text="Samples of this host in the read's range.")
    first = serializers.DateTimeField()
    last = serializers.DateTimeField()


class ResourceSeriesOutput(serializers.Serializer):
    job = serializers.CharField(allow_null=True)
    host = serializers.CharField(allow_null=True)
    max_points = serializers.IntegerField()
    total = serializers.IntegerField()
    downsampled = serializers.BooleanField()
    hosts = ResourceHostOutput(
        many=True,
        help_text="The hosts the samples came from, by name: several for a multi-node job, "
        "each downsampled on its own.",
    )
    samples = ResourceSampleOutput(many=True)


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()


ValidationErrorOutput = OpenApiTypes.OBJECT
