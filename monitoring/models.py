"""Host resource samples: CPU, RAM, GPU, disk and network over time."""

from django.db import models
from django.utils import timezone

from jobs.core.values import isoformat

# The numeric columns of a sample, which ingest validates, retention averages and
# series reads downsample; the byte counts among them are integers.
SCALAR_FIELDS = (
    "cpu_percent",
    "cpu_temp",
    "ram_used",
    "ram_total",
    "swap_used",
    "swap_total",
    "disk_used",
    "disk_total",
    "disk_read_rate",
    "disk_write_rate",
    "net_rx_rate",
    "net_tx_rate",
)
INTEGER_FIELDS = frozenset(
    {"ram_used", "ram_total", "swap_used", "swap_total", "disk_used", "disk_total"}
)
# The numbers of one GPU's reading in `ResourceSample.gpus`.
GPU_FIELDS = ("util", "mem_used", "mem_total", "temp", "power", "power_limit")


class Resolution(models.TextChoices):
    RAW = "raw", "Raw"
    MINUTE = "minute", "Per-minute average"


class ResourceSample(models.Model):
    host = models.CharField(max_length=255)
    time = models.DateTimeField(default=timezone.now)
    job = models.ForeignKey(
        "jobs.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resource_samples",
    )
    resolution = models.CharField(max_length=8, choices=Resolution.choices, default="raw")

    cpu_percent = models.FloatField(null=True, blank=True)
    cpu_per_core = models.JSONField(default=list, blank=True)
    cpu_temp = models.FloatField(null=True, blank=True)
    ram_used = models.BigIntegerField(null=True, blank=True)
    ram_total = models.BigIntegerField(null=True, blank=True)
    swap_used = models.BigIntegerField(null=True, blank=True)
    swap_total = models.BigIntegerField(null=True, blank=True)
    # [{"index", "name", "util", "mem_used", "mem_total", "temp", "power", "power_limit"}]
    gpus = models.JSONField(default=list, blank=True)
    disk_used = models.BigIntegerField(null=True, blank=True)
    disk_total = models.BigIntegerField(null=True, blank=True)
    disk_read_rate = models.FloatField(null=True, blank=True)
    disk_write_rate = models.FloatField(null=True, blank=True)
    net_rx_rate = models.FloatField(null=True, blank=True)
    net_tx_rate = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["time", "id"]
        indexes = [
            # /api/training/resources?host=… and the retention pass, by time.
            models.Index(fields=["host", "time"], name="sample_host_time_idx"),
            # /api/training/resources?job=… and the job screen's resource charts.
            models.Index(fields=["job", "time"], name="sample_job_time_idx"),
            # Retention: WHERE resolution='raw' AND time < cutoff.
            models.Index(fields=["resolution", "time"], name="sample_resolution_time_idx"),
        ]

    def __str__(self):
        return f"{self.host} @ {self.time:%Y-%m-%d %H:%M:%S}"

    def to_dict(self):
        """The shape of one sample in the API and live pushes."""
        return {
            "host": self.host,
            "time": isoformat(self.time),
            "job": self.job.uid if self.job_id else None,
            "resolution": self.resolution,
            "cpu_percent": self.cpu_percent,
            "cpu_per_core": self.cpu_per_core,
            "cpu_temp": self.cpu_temp,
            "ram_used": self.ram_used,
            "ram_total": self.ram_total,
            "swap_used": self.swap_used,
            "swap_total": self.swap_total,
            "gpus": self.gpus,
            "disk_used": self.disk_used,
            "disk_total": self.disk_total,
            "disk_read_rate": self.disk_read_rate,
            "disk_write_rate": self.disk_write_rate,
            "net_rx_rate": self.net_rx_rate,
            "net_tx_rate": self.net_tx_rate,
        }
