from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0011_samples"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="synced_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
