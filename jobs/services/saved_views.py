"""Saved views of the runs table: a user's named query, columns, sort and grouping."""

from django.db import transaction

from jobs.core.validation import Conflict, InvalidInput
from jobs.models import SavedView
from jobs.query import QuerySyntaxError, column_resolve, query_parse

MAX_COLUMNS = 60


def _column_error(name):
    try:
        column_resolve(name)
    except QuerySyntaxError as exc:
        return exc.message
    return None


def saved_view_save(*, owner, name, query="", columns=(), sort="", group_by=""):
    """Create the owner's view of this name, or replace the one they already have;
    returns (view, created). The query must parse, each column, the sort and the grouping
    must name a column (`config.<key>`, `<metric>.min`, a job field)."""
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["A name is required."]
    elif len(name) > 100:
        errors["name"] = ["At most 100 characters."]
    query = (query or "").strip()
    try:
        query_parse(query)
    except QuerySyntaxError as exc:
        errors["query"] = [exc.message]
        errors["position"] = exc.position
    if not isinstance(columns, list | tuple) or not all(isinstance(c, str) for c in columns):
        errors["columns"] = ["Expected a list of column names."]
    elif len(columns) > MAX_COLUMNS:
        errors["columns"] = [f"At most {MAX_COLUMNS} columns."]
    else:
        bad = {str(i): [e] for i, c in enumerate(columns) if (e := _column_error(c.strip()))}
        if bad:
            errors["columns"] = bad
    sort = (sort or "").strip()
    if sort and (message := _column_error(sort.removeprefix("-"))):
        errors["sort"] = [message]
    group_by = (group_by or "").strip()
    if group_by and (message := _column_error(group_by)):
        errors["group_by"] = [message]
    if errors:
        raise InvalidInput(errors)
    fields = {
        "query": query,
        "columns": [c.strip() for c in columns],
        "sort": sort,
        "group_by": group_by,
    }
    with transaction.atomic():
        view, created = SavedView.objects.select_for_update().get_or_create(
            owner=owner, name=name, defaults=fields
        )
        if not created:
            for field, value in fields.items():
                setattr(view, field, value)
            view.save(update_fields=list(fields))
    return view, created


def saved_view_delete(*, owner, view_id):
    """Delete the owner's view; `Conflict` when it is someone else's."""
    view = SavedView.objects.filter(pk=view_id).first()
    if view is None:
        return False
    if view.owner_id != owner.pk:
        raise Conflict("This view belongs to another user; only its owner may delete it.")
    view.delete()
    return True
