"""The query language of job lists: `status:running lr>=1e-4 val/loss.min<0.9 -tag:debug`.

One grammar for `GET /api/jobs?query=…`, the runs table, the dashboard's search box and
saved views (docs/query.md). `query_parse` turns the text into a tree (pure Python, no
database); `query_apply` turns the tree into ORM filters that run in the database —
config values through JSON1 (SQLite) or jsonb (PostgreSQL) with type guards, metric
summaries through one indexed `MetricSummary` lookup per job — and `sort_apply` orders
by any column the runs table shows.

The grammar is written out in `grammar.py`; a syntax error raises `QuerySyntaxError`
there, with the position of the error.
"""

from .compiler import (
    COMPARISONS,
    JOB_FIELDS,
    NUMBER_FIELDS,
    SUMMARIES,
    TEXT_FIELDS,
    TIME_FIELDS,
    column_resolve,
    mentions_archived,
    query_apply,
    regex_required_literal,
    sort_apply,
    sort_expressions,
    summary_column,
    text_search,
)
from .grammar import (
    MAX_QUERY_LENGTH,
    And,
    Not,
    Or,
    QuerySyntaxError,
    Term,
    Text,
    is_plain_text,
    query_parse,
)

__all__ = [
    "COMPARISONS",
    "JOB_FIELDS",
    "MAX_QUERY_LENGTH",
    "NUMBER_FIELDS",
    "SUMMARIES",
    "TEXT_FIELDS",
    "TIME_FIELDS",
    "And",
    "Not",
    "Or",
    "QuerySyntaxError",
    "Term",
    "Text",
    "column_resolve",
    "is_plain_text",
    "mentions_archived",
    "query_apply",
    "query_parse",
    "regex_required_literal",
    "sort_apply",
    "sort_expressions",
    "summary_column",
    "text_search",
]
