"""Reads of saved runs-table views."""

from jobs.models import SavedView


def saved_views_of(user):
    """A user's saved views, by name."""
    return list(SavedView.objects.filter(owner=user).order_by("name", "id"))


def saved_view_by_id(raw_id):
    """The saved view with this id, or None (any reader may open a view's URL: it holds a
    query and columns, not jobs; the jobs shown are the reader's own)."""
    try:
        return SavedView.objects.filter(pk=int(raw_id)).first()
    except (TypeError, ValueError):
        return None
