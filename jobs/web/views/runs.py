"""The runs table `/runs`: one row per job, the columns, sort and query the URL names.

`?query=` (the query language), `columns=` (comma-separated column names: job fields,
`config.<key>`, `<metric>.last|min|max…`), `sort=` (a column, `-` for descending),
`group=` (group rows by a column), `page=`, `view=<id>` (a saved view: its query,
columns, sort and grouping unless the URL names its own). Every part is in the URL, so
a link shows the same table to anyone who may read the jobs (each reader sees only
their projects' jobs).
"""

import re
from urllib.parse import urlencode

from django.shortcuts import render

from jobs import selectors
from jobs.core.validation import InvalidInput

from ..access import move_targets, page_access, shown_projects
from ..presenters import query_error_parts, runs_column_label, runs_header, runs_row

GROUPABLE = ("model", "dataset", "status", "tag")


def runs_url(state, **changes):
    """`?query=…&columns=…&sort=…&group=…&page=…` of the table with `changes` applied
    (empty parts left out; the page resets unless named)."""
    merged = {**state, "page": None, **changes}
    if merged.get("page") == 1:
        merged["page"] = None
    return "?" + urlencode({k: v for k, v in merged.items() if v})


def group_condition(group, value):
    """The query term that keeps one group's jobs, or None for the "(none)" groups."""
    if value in ("(none)", "(no tag)"):
        return None
    quoted = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if group.startswith("config."):
        plain = value in ("true", "false") or _looks_numeric(value)
        field = group
        if re.search(r"""[\s()"':=!<>~]""", group):
            field = '"' + group.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{field}={value if plain else quoted}"
    return f"{'tag' if group == 'tag' else group}:{quoted}"


def _looks_numeric(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _page_number(raw):
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1


def _table_state(params):
    """`(view, query, columns, sort, group, page)` the URL names; a saved view fills in
    what the URL leaves out."""
    view = selectors.saved_view_by_id(params["view"]) if params.get("view") else None
    query = params.get("query", view.query if view else "").strip()
    if "columns" in params:
        columns = selectors.runs_columns_clean(params["columns"].split(","))
    elif view is not None:
        columns = selectors.runs_columns_clean(view.columns)
    else:
        columns = list(selectors.DEFAULT_COLUMNS)
    sort = params.get("sort", view.sort if view else "").strip()
    group = params.get("group", view.group_by if view else "").strip()
    return view, query, columns, sort, group, _page_number(params.get("page"))


def _query_error(exc, query):
    """What the page says of an invalid query, sort or column: the field, the message
    and, for the query, the text split around the position to underline."""
    detail = exc.detail
    field = "query" if "query" in detail else next(iter(detail))
    position = detail.get("position") if field == "query" else None
    return {
        "field": field,
        "message": detail[field][0],
        "position": position,
        "parts": query_error_parts(query, position),
    }


def _offered_keys(projects, query, columns):
    """The config and metric keys the column chooser offers: those of the matching
    jobs, and the chosen ones even when the sample of jobs lacks them."""
    config_keys, metric_keys = selectors.runs_column_keys(projects=projects, query=query)
    config_keys = sorted(
        set(config_keys) | {c[len("config.") :] for c in columns if c.startswith("config.")}
    )
    metric_keys = sorted(
        set(metric_keys) | {c.rsplit(".", 1)[0] for c in columns if selectors.is_metric_column(c)}
    )
    return config_keys, metric_keys


def _link_groups(groups, state, metric_columns):
    """Each group's metric cells, and the link to the table of its jobs alone."""
    for g in groups:
        g["cells"] = [{"column": c, **g["stats"][c]} for c in metric_columns]
        condition = group_condition(state["group"], g["value"])
        if condition:
            query = f"{state['query']} {condition}".strip()
            g["href"] = runs_url(state, query=query, group="")


@page_access
def runs(request):
    projects = shown_projects(request)
    view, query, columns, sort, group, page = _table_state(request.GET)
    error = None
    total, rows, summaries = 0, [], {}
    groups, groups_truncated = [], False
    try:
        total, jobs, summaries = selectors.runs_page(
            projects=projects, query=query, sort=sort, columns=columns, page=page
        )
        rows = [runs_row(job, columns, summaries) for job in jobs]
        if group:
            groups, groups_truncated = selectors.runs_groups(
                projects=projects,
                query=query,
                sort=sort,
                group_by=group,
                metrics=columns,
            )
    except InvalidInput as exc:
        error = _query_error(exc, query)
    config_keys, metric_keys = _offered_keys(projects, query, columns)
    pages = max(1, -(-total // selectors.RUNS_PAGE_SIZE))
    first = (page - 1) * selectors.RUNS_PAGE_SIZE + 1 if rows else 0
    saved = selectors.saved_views_of(request.user) if request.user.is_authenticated else []
    group_choices = [*GROUPABLE, *(f"config.{k}" for k in config_keys)]
    metric_columns = [c for c in columns if selectors.is_metric_column(c)]
    state = {"query": query, "columns": ",".join(columns), "sort": sort, "group": group}
    header = runs_header(columns, sort)
    for cell in header:
        cell["href"] = runs_url(state, sort=cell["next_sort"])
    _link_groups(groups, state, metric_columns)
    return render(
        request,
        "jobs/runs.html",
        {
            "page": "runs",
            "query": query,
            "columns": columns,
            "columns_param": ",".join(columns),
            "sort": sort,
            "group": group,
            "header": header,
            "previous_url": runs_url(state, page=page - 1) if page > 1 else None,
            "next_url": runs_url(state, page=page + 1) if page < pages else None,
            "rows": rows,
            "total": total,
            "first": first,
            "last": first + len(rows) - 1 if rows else 0,
            "page_number": page,
            "pages": pages,
            "error": error,
            "job_columns": [
                {"name": c, "label": runs_column_label(c)} for c in selectors.JOB_COLUMNS
            ],
            "config_keys": config_keys,
            "metric_keys": metric_keys,
            "summaries": selectors.METRIC_SUMMARIES,
            "saved_views": saved,
            "view": view,
            "group_choices": group_choices,
            "groups": groups,
            "groups_truncated": groups_truncated,
            "group_rows_max": selectors.GROUP_ROWS_MAX,
            "metric_columns": metric_columns,
            "move_projects": move_targets(request),
            "boot": {
                "query": query,
                "columns": columns,
                "sort": sort,
                "group": group,
                "page": page,
                "view": view.pk if view else None,
                "signedIn": request.user.is_authenticated,
                "total": total,
                "error": error is not None,
            },
        },
    )
