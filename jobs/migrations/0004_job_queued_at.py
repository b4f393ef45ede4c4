"""Queue positions become derived: `queued_at` orders the queue, `queue_position` goes.

Existing jobs are queued at their creation time; queued jobs keep the order they had
("queue_position, created_at, id"), each moved just after the one before when its
creation time would break that order. Reversing numbers the queued jobs 1..n again.
"""

from datetime import timedelta

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def queued_at_from_queue_order(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    jobs = Job.objects.using(schema_editor.connection.alias)
    jobs.update(queued_at=F("created_at"))
    queued = (
        jobs.filter(status="queued")
        .order_by("queue_position", "created_at", "id")
        .only("id", "created_at", "queued_at")
    )
    previous, moved = None, []
    for job in queued.iterator(chunk_size=2000):
        if previous is not None and job.queued_at <= previous:
            job.queued_at = previous + timedelta(microseconds=1)
            moved.append(job)
        previous = job.queued_at
    jobs.bulk_update(moved, ["queued_at"], batch_size=500)


def queue_position_from_queued_at(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    jobs = Job.objects.using(schema_editor.connection.alias)
    queued = list(jobs.filter(status="queued").order_by("queued_at", "id").only("id"))
    for position, job in enumerate(queued, start=1):
        job.queue_position = position
    jobs.bulk_update(queued, ["queue_position"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0003_metric_rollups"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="queued_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(queued_at_from_queue_order, queue_position_from_queued_at),
        migrations.AlterField(
            model_name="job",
            name="queued_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RemoveField(
            model_name="job",
            name="queue_position",
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["status", "queued_at", "id"], name="job_queue_idx"),
        ),
    ]
