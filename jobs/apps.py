from django.apps import AppConfig


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        # Sign-out and deactivation close the viewer's WebSockets (jobs/live/sessions.py).
        from jobs.live import sessions  # noqa: F401
