from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_failure_signature"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="source",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="job",
            name="external",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
