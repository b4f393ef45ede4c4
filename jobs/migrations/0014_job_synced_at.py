from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0013_alert_rule_sharing"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="synced_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
