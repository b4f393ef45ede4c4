"""Metric points and the min/max rollups kept beside them for long series."""

import math

from django.db import models
from django.utils import timezone

from .job import Job


class MetricPoint(models.Model):
    """One value of one metric key at one step.

    NaN is stored as NULL in `value` (SQLite cannot hold NaN; PostgreSQL could, but one
    representation keeps both backends alike); ±inf are stored as they are.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metric_points")
    key = models.CharField(max_length=128)
    step = models.BigIntegerField()
    epoch = models.FloatField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    wall_time = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the index of every series read: WHERE job=? AND key=? ORDER BY step.
            models.UniqueConstraint(
                fields=["job", "key", "step"], name="metric_point_unique_job_key_step"
            ),
        ]

    def __str__(self):
        return f"{self.key}@{self.step}={self.float_value}"

    @property
    def float_value(self):
        return math.nan if self.value is None else self.value


class MetricRollup(models.Model):
    """Min/max summary of one bucket of `width` steps of one metric series.

    Kept by metrics ingest at a few widths, so a long series is downsampled by reading
    a few hundred summary rows instead of scanning every point, and a spike (the min or
    max of its bucket) or a NaN is never lost. `nan_step` is the first NaN in the bucket.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metric_rollups")
    key = models.CharField(max_length=128)
    width = models.PositiveIntegerField()
    bucket = models.BigIntegerField()
    count = models.PositiveIntegerField()
    first_step = models.BigIntegerField()
    first_value = models.FloatField(null=True)
    first_epoch = models.FloatField(null=True)
    last_step = models.BigIntegerField()
    last_value = models.FloatField(null=True)
    last_epoch = models.FloatField(null=True)
    min_step = models.BigIntegerField(null=True)
    min_value = models.FloatField(null=True)
    min_epoch = models.FloatField(null=True)
    max_step = models.BigIntegerField(null=True)
    max_value = models.FloatField(null=True)
    max_epoch = models.FloatField(null=True)
    nan_step = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            # Also the index of downsampled reads: WHERE job=? AND key=? AND width=?
            # ORDER BY bucket.
            models.UniqueConstraint(
                fields=["job", "key", "width", "bucket"], name="metric_rollup_unique_bucket"
            ),
        ]

    def __str__(self):
        return f"{self.key}[{self.width}×{self.bucket}]"
