"""Job.failure_signature, indexed, filled for the jobs that had already failed."""

from django.db import migrations, models

from jobs.models.job import failure_signature_of


def fill_signatures(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    failed = Job.objects.filter(status="failed").only("id", "error_type", "error_message")
    batch = []
    for job in failed.iterator(chunk_size=500):
        job.failure_signature = failure_signature_of(job.error_type, job.error_message)
        batch.append(job)
        if len(batch) == 500:
            Job.objects.bulk_update(batch, ["failure_signature"])
            batch = []
    Job.objects.bulk_update(batch, ["failure_signature"])


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0005_projects"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="failure_signature",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                fields=["failure_signature", "-finished_at"], name="job_failure_sig_idx"
            ),
        ),
        migrations.RunPython(fill_signatures, migrations.RunPython.noop),
    ]
