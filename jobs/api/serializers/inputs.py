"""Request bodies of the API's writes: jobs, metric points, log lines, stage moves, status
updates and resource samples."""

import math

from rest_framework import serializers

from jobs.models import JobStatus, StageName, StageStatus

from .fields import BatchField, ErrorInputField, MetricValueInputField, TimeInputField


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
    project = serializers.SlugField(
        required=False,
        max_length=64,
        help_text="The project's slug. Default: the token's only project, else the default "
        "project.",
    )

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


class StatusUpdateInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False, allow_null=True)
    progress = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=100)
    step = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    epoch = serializers.FloatField(required=False, allow_null=True, min_value=0)
    total_steps = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    host = serializers.CharField(required=False, allow_blank=True, max_length=255)
    error = ErrorInputField(required=False, allow_null=True)
    time = TimeInputField(required=False)
    synced = serializers.BooleanField(
        required=False,
        help_text="True from `tuneboard sync`: the job's events were uploaded after the fact.",
    )


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


class JobEditInput(serializers.Serializer):
    name = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="1–200 characters."
    )
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="At most 2000 characters; empty clears it.",
    )


class JobBulkInput(serializers.Serializer):
    action = serializers.CharField(
        help_text="add_tag, remove_tag, move, archive, unarchive or delete."
    )
    uids = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=5000,
        help_text="The jobs to change; or send `query` instead.",
    )
    query = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Every job the query matches (docs/query.md), as the runs table shows them.",
    )
    tag = serializers.CharField(
        required=False, allow_blank=True, help_text="add_tag, remove_tag: the tag."
    )
    project = serializers.CharField(
        required=False, allow_blank=True, help_text="move: the slug of the target project."
    )
