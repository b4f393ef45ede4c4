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


class MetricSummary(models.Model):
    """What a query asks of one metric series of one job: its last value, its extremes
    and their steps, and how many points it has.

    Kept by metrics ingest under the job row's lock (`jobs/summaries.py`), so the query
    language (`val/loss.min<0.9`) and the runs table's metric columns read one row per
    job and key, never the points. NaN is not an extreme: `min_value`/`max_value` are
    over the other values (None when every value is NaN); a NaN last value is None.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metric_summaries")
    key = models.CharField(max_length=128)
    count = models.PositiveBigIntegerField(default=0)
    last_step = models.BigIntegerField()
    last_value = models.FloatField(null=True)
    min_step = models.BigIntegerField(null=True)
    min_value = models.FloatField(null=True)
    max_step = models.BigIntegerField(null=True)
    max_value = models.FloatField(null=True)

    class Meta:
        constraints = [
            # Also the index of every query term and metric column: a correlated lookup
            # WHERE job=? AND key=? per listed job; and the Columns menu's DISTINCT keys.
            models.UniqueConstraint(fields=["job", "key"], name="metric_summary_unique_job_key"),
        ]
        indexes = [
            # A query's metric terms (`val/loss.min<0.9`: job_id IN (SELECT job_id ...
            # WHERE key=? AND min_value<?)) read one range of one of these, job_id
            # included, not every summary of the key; `key` first, they also serve
            # the runs table's metric column keys (DISTINCT key over the summaries).
            models.Index(fields=["key", "min_value", "job"], name="metric_summary_min_idx"),
            models.Index(fields=["key", "max_value", "job"], name="metric_summary_max_idx"),
            models.Index(fields=["key", "last_value", "job"], name="metric_summary_last_idx"),
        ]

    def __str__(self):
        return f"{self.job_id}:{self.key}"

    @property
    def best_step(self):
        """The step of the minimum for loss-like keys, else of the maximum."""
        return self.min_step if loss_like(self.key) else self.max_step


LOSS_LIKE_WORDS = ("loss", "error", "perplexity")


def loss_like(key):
    """A key whose best value is its smallest: one naming a loss, an error or perplexity
    (`val/loss`, `eval_error_rate`, `perplexity`); any other key is best at its largest."""
    lowered = key.lower()
    return any(word in lowered for word in LOSS_LIKE_WORDS)
