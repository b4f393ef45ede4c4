"""Alert rules shared with a project: a severity per rule, read markers per reader
(a project rule's alert is read or unread for each member), the cards' open-alert index.

The owners' read markers of existing alerts move to the new table before the column
goes, so nobody's bell counts old alerts as unread again.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def read_markers_forward(apps, schema_editor):
    FiredAlert = apps.get_model("jobs", "FiredAlert")
    FiredAlertRead = apps.get_model("jobs", "FiredAlertRead")
    rows = FiredAlert.objects.exclude(read_at=None).values_list("pk", "rule__owner_id", "read_at")
    FiredAlertRead.objects.bulk_create(
        [FiredAlertRead(alert_id=pk, user_id=owner, read_at=at) for pk, owner, at in rows],
        batch_size=1000,
    )


def read_markers_backward(apps, schema_editor):
    FiredAlert = apps.get_model("jobs", "FiredAlert")
    FiredAlertRead = apps.get_model("jobs", "FiredAlertRead")
    for read in FiredAlertRead.objects.select_related("alert__rule"):
        if read.user_id == read.alert.rule.owner_id:
            FiredAlert.objects.filter(pk=read.alert_id).update(read_at=read.read_at)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0012_sign_in_identities"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="FiredAlertRead",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("read_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "alert",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reads",
                        to="jobs.firedalert",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("alert", "user"), name="firedalertread_unique")
                ],
            },
        ),
        migrations.RunPython(read_markers_forward, read_markers_backward),
        migrations.RemoveField(model_name="firedalert", name="read_at"),
        migrations.AddField(
            model_name="alertrule",
            name="severity",
            field=models.CharField(
                choices=[("info", "Info"), ("warning", "Warning"), ("critical", "Critical")],
                default="warning",
                max_length=8,
            ),
        ),
        migrations.AddIndex(
            model_name="firedalert",
            index=models.Index(fields=["resolved_at", "job"], name="firedalert_open_idx"),
        ),
    ]
