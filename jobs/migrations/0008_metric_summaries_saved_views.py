"""MetricSummary (per job and key: last, min, max and their steps, count), filled from
the stored points of existing jobs; SavedView (a user's named runs-table view)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def fill_summaries(apps, schema_editor):
    """One pass over every point in (job, key, step) order (the unique index's order),
    folding each series as ingest does: NaN (NULL) is never an extreme, ties keep the
    earliest step."""
    MetricPoint = apps.get_model("jobs", "MetricPoint")
    MetricSummary = apps.get_model("jobs", "MetricSummary")
    batch = []
    current = None

    def flush():
        if current is not None:
            batch.append(MetricSummary(**current))
        if len(batch) >= 1000 or (current is None and batch):
            MetricSummary.objects.bulk_create(batch)
            batch.clear()

    points = (
        MetricPoint.objects.order_by("job_id", "key", "step")
        .values_list("job_id", "key", "step", "value")
        .iterator(chunk_size=5000)
    )
    for job_id, key, step, value in points:
        if current is None or current["job_id"] != job_id or current["key"] != key:
            flush()
            current = {
                "job_id": job_id,
                "key": key,
                "count": 0,
                "min_value": None,
                "max_value": None,
                "min_step": None,
                "max_step": None,
            }
        current["count"] += 1
        current["last_step"], current["last_value"] = step, value
        if value is not None:
            if current["min_value"] is None or value < current["min_value"]:
                current["min_step"], current["min_value"] = step, value
            if current["max_value"] is None or value > current["max_value"]:
                current["max_step"], current["max_value"] = step, value
    flush()
    current = None
    flush()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0007_job_source"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="MetricSummary",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=128)),
                ("count", models.PositiveBigIntegerField(default=0)),
                ("last_step", models.BigIntegerField()),
                ("last_value", models.FloatField(null=True)),
                ("min_step", models.BigIntegerField(null=True)),
                ("min_value", models.FloatField(null=True)),
                ("max_step", models.BigIntegerField(null=True)),
                ("max_value", models.FloatField(null=True)),
                (
                    "job",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="metric_summaries",
                        to="jobs.job",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["key"], name="metric_summary_key_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("job", "key"), name="metric_summary_unique_job_key"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="SavedView",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("query", models.CharField(blank=True, max_length=2000)),
                ("columns", models.JSONField(blank=True, default=list)),
                ("sort", models.CharField(blank=True, max_length=200)),
                ("group_by", models.CharField(blank=True, max_length=200)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="saved_views",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["name", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("owner", "name"), name="saved_view_unique_name")
                ],
            },
        ),
        migrations.RunPython(fill_summaries, migrations.RunPython.noop),
    ]
