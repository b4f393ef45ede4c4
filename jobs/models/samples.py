"""What a model said as it learned, and the checkpoints it left.

A `Sample` is one generation on one prompt at one step; it is never overwritten (a
re-sent sample is ignored), so the panel shows what the model said then. A `Checkpoint`
is one saved state of the model at a step, with the evaluation metrics at that step.
"""

import hashlib

from django.db import models
from django.utils import timezone

from .job import Job


def prompt_hash_of(prompt):
    """The key a prompt is stored and looked up under (prompts may be 64 KiB long)."""
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Sample(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="samples")
    prompt = models.TextField()
    prompt_hash = models.CharField(max_length=32)
    step = models.BigIntegerField()
    output = models.TextField()
    reference = models.TextField(blank=True, default="")
    score = models.FloatField(null=True, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    time = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One generation per job, prompt and step; also the index of one prompt's
            # outputs: WHERE job=? AND prompt_hash=? ORDER BY step.
            models.UniqueConstraint(
                fields=["job", "prompt_hash", "step"], name="sample_unique_job_prompt_step"
            ),
        ]
        indexes = [
            # Pages of every prompt's outputs and live catch-up:
            # WHERE job=? AND step>? ORDER BY step, id.
            models.Index(fields=["job", "step", "id"], name="sample_job_step_id"),
        ]

    def __str__(self):
        return f"{self.job_id}@{self.step} {self.prompt[:40]}"


class Checkpoint(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="checkpoints")
    step = models.BigIntegerField()
    path = models.CharField(max_length=1024)
    size = models.BigIntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["step"]
        constraints = [
            # One checkpoint per job and step; also the index of the list:
            # WHERE job=? ORDER BY step.
            models.UniqueConstraint(fields=["job", "step"], name="checkpoint_unique_job_step"),
        ]

    def __str__(self):
        return f"{self.job_id}@{self.step} {self.path}"
