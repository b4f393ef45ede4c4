"""Saved views of the runs table: a named query with its columns and sort, per user."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SavedView(models.Model):
    """A user's named runs-table view. Its URL (`/runs?view=<id>`) opens it for anyone
    who may open the runs table; each reader sees only the jobs they may read."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)
    # Column names as the query language spells fields: "status", "config.lr", "val/loss.min".
    columns = models.JSONField(default=list, blank=True)
    # One column name, "-" first for descending; "" for the default order (newest first).
    sort = models.CharField(max_length=200, blank=True)
    group_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_view_unique_name"),
        ]

    def __str__(self):
        return self.name
