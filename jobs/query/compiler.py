"""The query language's tree → ORM filters and orderings that run in the database:
config values through JSON1 (SQLite) or jsonb (PostgreSQL) with type guards, metric
summaries through one indexed `MetricSummary` lookup per job (docs/query.md).
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from re import _constants as _re_constants
from re import _parser as _re_parser

from django.db.models import (
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    FloatField,
    Func,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from jobs.core.validation import InvalidInput
from jobs.models import JobStatus, MetricSummary, loss_like

from .grammar import And, Not, Or, QuerySyntaxError, Term, Text, query_parse

# --- values ---------------------------------------------------------------------------

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _number(term):
    if not term.quoted and _NUMBER.fullmatch(term.value):
        return float(term.value)
    return None


def _duration_seconds(value):
    if _DURATION.fullmatch(value):
        return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))
    return None


def _error(term, message, *, at_value=True):
    position = term.value_position if at_value else term.position
    return QuerySyntaxError(f"{message} (position {position})", position)


# --- fields ---------------------------------------------------------------------------

TEXT_FIELDS = {
    "name": "name",
    "uid": "uid",
    "model": "base_model",
    "dataset": "dataset",
    "host": "host",
    "project": "project__slug",
}
NUMBER_FIELDS = {"step": "current_step", "progress": "progress", "epoch": "epoch"}
TIME_FIELDS = {"created": "created_at", "started": "started_at", "finished": "finished_at"}
JOB_FIELDS = (
    "status",
    *TEXT_FIELDS,
    "tag",
    *NUMBER_FIELDS,
    "duration",
    *TIME_FIELDS,
    "archived",
)
SUMMARIES = {
    "last": "last_value",
    "min": "min_value",
    "max": "max_value",
    "best": None,  # min_value for loss-like keys, else max_value
    "best_step": None,  # min_step for loss-like keys, else max_step
    "last_step": "last_step",
    "min_step": "min_step",
    "max_step": "max_step",
    "count": "count",
}
_SUMMARY_SUFFIX = re.compile(r"^(.+)\.(" + "|".join(SUMMARIES) + r")$")
COMPARISONS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def summary_column(key, summary):
    """The `MetricSummary` column of `<key>.<summary>`."""
    if summary == "best":
        return "min_value" if loss_like(key) else "max_value"
    if summary == "best_step":
        return "min_step" if loss_like(key) else "max_step"
    return SUMMARIES[summary]


class ConfigValue(Func):
    """One top-level config value of one JSON type, else NULL: `kind` "number" (a float),
    "text" (a string) or "bool" ('true'/'false'). The type guard keeps a string from
    ever reaching a numeric cast (PostgreSQL would raise) and makes both backends agree."""

    def __init__(self, key, kind):
        self.key, self.kind = key, kind
        output = FloatField() if kind == "number" else TextField()
        super().__init__(F("config"), output_field=output)

    def as_sql(self, compiler, connection, **extra):
        return self.as_sqlite(compiler, connection)

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        path = "$." + json.dumps(self.key)
        types = {"number": "'integer', 'real'", "text": "'text'", "bool": "'true', 'false'"}
        value = "JSON_TYPE({c}, %s)" if self.kind == "bool" else "JSON_EXTRACT({c}, %s)"
        sql = f"CASE WHEN JSON_TYPE({{c}}, %s) IN ({types[self.kind]}) THEN {value} END"
        return sql.format(c=column), (*params, path, *params, path)

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        jtype = {"number": "number", "text": "string", "bool": "boolean"}[self.kind]
        value = f"({column} ->> %s)"
        if self.kind == "number":
            value += "::double precision"
        sql = f"CASE WHEN jsonb_typeof({column} -> %s) = '{jtype}' THEN {value} END"
        return sql, (*params, self.key, *params, self.key)


def _metric(key, summary):
    rows = MetricSummary.objects.filter(job_id=OuterRef("pk"), key=key)
    column = summary_column(key, summary)
    output = FloatField() if column.endswith("_value") else None
    return Subquery(rows.values(column)[:1], output_field=output)


def _duration(now):
    end = Coalesce(F("finished_at"), Value(now, output_field=DateTimeField()))
    return ExpressionWrapper(end - F("started_at"), output_field=DurationField())


@dataclass
class _Column:
    """A resolved field: a kind and what it reads."""

    kind: str  # "status" "text" "tag" "number" "duration" "time" "config" "metric"
    target: str = ""  # the model field (job fields), the config key or the metric key
    summary: str = ""


def column_resolve(name, *, config_keys=None, position=0, field="query"):
    """The column a field name reads: a job field, `config.<key>`, `<key>.<summary>`, or a
    bare config key when `config_keys(name)` says some job's config has it."""
    if name == "status":
        return _Column("status", "status")
    if name in ("tag", "tags"):
        return _Column("tag", "tags_text")
    if name in TEXT_FIELDS:
        return _Column("text", TEXT_FIELDS[name])
    if name in NUMBER_FIELDS:
        return _Column("number", NUMBER_FIELDS[name])
    if name == "duration":
        return _Column("duration")
    if name == "archived":
        return _Column("archived", "archived")
    if name in TIME_FIELDS:
        return _Column("time", TIME_FIELDS[name])
    if name.startswith("config.") and len(name) > len("config."):
        return _Column("config", name[len("config.") :])
    match = _SUMMARY_SUFFIX.match(name)
    if match:
        return _Column("metric", match.group(1), match.group(2))
    if config_keys is not None and config_keys(name):
        return _Column("config", name)
    raise QuerySyntaxError(
        f"Unknown field {name!r} at position {position}: expected a job field "
        f"({', '.join(JOB_FIELDS)}), config.<key>, a config key, or "
        "<metric>.last|min|max|best|best_step.",
        position,
        field=field,
    )


# --- compiling to Q ---------------------------------------------------------------------


class _Compiler:
    def __init__(self, queryset, now):
        self.queryset = queryset
        self.now = now
        self.aliases = {}
        self._known_config = {}
        self.negated = 0  # how many negations enclose the node being compiled

    def config_keys(self, key):
        if key not in self._known_config:
            self._known_config[key] = self.queryset.filter(config__has_key=key).exists()
        return self._known_config[key]

    def alias(self, expression_key, build):
        """The name of an alias for the expression, added once however often it is used."""
        if expression_key not in self.aliases:
            self.aliases[expression_key] = (f"_q{len(self.aliases)}", build())
        return self.aliases[expression_key][0]

    def compile(self, node):
        if isinstance(node, Or):
            q = Q()
            for child in node.nodes:
                q |= self.compile(child)
            return q
        if isinstance(node, And):
            q = Q()
            for child in node.nodes:
                q &= self.compile(child)
            return q
        if isinstance(node, Not):
            self.negated += 1
            try:
                return ~self.compile(node.node)
            finally:
                self.negated -= 1
        if isinstance(node, Text):
            return text_search(node.text)
        return self.term(node)

    def term(self, term):
        column = column_resolve(term.field, config_keys=self.config_keys, position=term.position)
        return getattr(self, f"term_{column.kind}")(term, column)

    # Under a negation a leaf must never evaluate to NULL: a negated leaf is true where
    # the value is missing (`-config.lr>1` keeps the jobs without lr), so there each
    # comparison on a value that may be NULL is ANDed with "is not NULL". Outside any
    # negation NULL already acts as false (AND and OR are monotone), and the guard would
    # only evaluate the expression twice per row. `!=` is a negation of its own.

    def _guarded(self, name, lookup, value, *, negating=False):
        q = Q(**{f"{name}__{lookup}": value})
        if self.negated or negating:
            q &= Q(**{f"{name}__isnull": False})
        return q

    def _text_ops(self, term, target, what):
        op, value = term.op, term.value
        if op in (":", "="):
            return Q(**{f"{target}__iexact": value})
        if op == "!=":
            return ~Q(**{f"{target}__iexact": value})
        if op == "~":
            return Q(**{f"{target}__icontains": value})
        if op == "!~":
            return ~Q(**{f"{target}__icontains": value})
        if op in ("regex", "!regex"):
            q = Q(**{f"{target}__{'iregex' if term.flags else 'regex'}": value})
            literal = regex_required_literal(value, ignore_case=bool(term.flags))
            if literal:
                # Every match contains the literal: a LIKE the database runs natively
                # first, so the regex (a Python function per row on SQLite) only sees
                # the rows that may match. Implied by the regex, so the result is equal.
                q = Q(**{f"{target}__icontains": literal}) & q
            return ~q if op == "!regex" else q
        if op == "exists":
            return ~Q(**{target: ""})
        raise _error(term, f"{what} is text: expected ':', '=', '!=', '~' or /regex/, not {op!r}")

    def term_text(self, term, column):
        return self._text_ops(term, column.target, repr(term.field))

    def term_status(self, term, column):
        if term.op in (":", "=", "!="):
            status = term.value.lower()
            if status not in JobStatus.values:
                raise _error(
                    term,
                    f"Unknown status {term.value!r}: expected one of {', '.join(JobStatus.values)}",
                )
            q = Q(status=status)
            return ~q if term.op == "!=" else q
        return self._text_ops(term, "status", "'status'")

    def term_archived(self, term, column):
        value = term.value.lower()
        if term.op not in (":", "=", "!=") or term.quoted or value not in ("true", "false"):
            raise _error(
                term, "'archived' is true or false: expected archived:true or archived:false"
            )
        q = Q(archived=value == "true")
        return ~q if term.op == "!=" else q

    def term_tag(self, term, column):
        op, value = term.op, term.value
        if op in (":", "=", "!="):
            q = Q(tags_text__contains=f",{value},")
            return ~q if op == "!=" else q
        if op in ("~", "!~"):
            q = Q(tags_text__icontains=value)
            return ~q if op == "!~" else q
        if op == "exists":
            return ~Q(tags_text="")
        raise _error(term, f"'tag' matches whole tags: expected ':', '!=' or '~', not {op!r}")

    def _numeric(self, term, name, number):
        op = term.op
        if op in (":", "="):
            return self._guarded(name, "exact", number)
        if op == "!=":
            return ~self._guarded(name, "exact", number, negating=True)
        if op in COMPARISONS:
            return self._guarded(name, COMPARISONS[op], number)
        raise _error(
            term, f"{term.field!r} is a number: expected ':', '=', '!=', '<', '<=', '>' or '>='"
        )

    def term_number(self, term, column):
        if term.op == "exists":
            return Q()
        number = _number(term)
        if number is None:
            raise _error(term, f"Expected a number for {term.field!r}, got {term.value!r}")
        return self._numeric(term, column.target, number)

    def term_duration(self, term, column):
        name = self.alias("duration", lambda: _duration(self.now))
        if term.op == "exists":
            return Q(**{f"{name}__isnull": False})
        seconds = _number(term)
        if seconds is None:
            seconds = _duration_seconds(term.value)
        if seconds is None:
            raise _error(
                term, f"Expected a duration (90s, 15m, 2h, 1d12h or seconds), got {term.value!r}"
            )
        return self._numeric(term, name, timedelta(seconds=seconds))

    def term_time(self, term, column):
        target = column.target
        if term.op == "exists":
            return Q(**{f"{target}__isnull": False})
        start, end = self._instant(term)
        ranges = {
            ":": Q(**{f"{target}__gte": start, f"{target}__lt": end}),
            "=": Q(**{f"{target}__gte": start, f"{target}__lt": end}),
            "<": Q(**{f"{target}__lt": start}),
            "<=": Q(**{f"{target}__lt": end}),
            ">": Q(**{f"{target}__gte": end}),
            ">=": Q(**{f"{target}__gte": start}),
        }
        if term.op == "!=":
            return ~(ranges["="] & Q(**{f"{target}__isnull": False}))
        if term.op not in ranges:
            raise _error(
                term, f"{term.field!r} is a time: expected ':', '=', '!=', '<', '<=', '>' or '>='"
            )
        return ranges[term.op] & Q(**{f"{target}__isnull": False})

    def _instant(self, term):
        """[start, end) a time value denotes: a whole UTC day for a date, one instant for a
        date and time, `now - d` for a duration d (`created>7d`: in the last 7 days)."""
        value = term.value
        seconds = _duration_seconds(value)
        if seconds is not None:
            at = self.now - timedelta(seconds=seconds)
            return at, at
        try:
            # A bare date first: parse_datetime reads "2026-11-01" as its midnight.
            day = parse_date(value) if _DATE.fullmatch(value) else None
            moment = None if day else parse_datetime(value)
        except ValueError:
            moment = day = None
        if moment is not None:
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=UTC)
            return moment, moment
        if day is not None:
            start = datetime.combine(day, time.min, tzinfo=UTC)
            return start, start + timedelta(days=1)
        raise _error(
            term,
            f"Expected a date (2026-11-01), a date and time (2026-11-01T12:00) or a duration "
            f"ago (7d) for {term.field!r}, got {term.value!r}",
        )

    def term_config(self, term, column):
        key, op = column.target, term.op
        if op == "exists":
            return Q(config__has_key=key)
        number = _number(term)
        if number is not None:
            name = self.alias(("config", "number", key), lambda: ConfigValue(key, "number"))
            if op in ("~", "!~", "regex", "!regex"):
                name = self.alias(("config", "text", key), lambda: ConfigValue(key, "text"))
                return self._text_leaf(term, name)
            return self._numeric(term, name, number)
        if not term.quoted and term.value in ("true", "false") and op in (":", "=", "!="):
            name = self.alias(("config", "bool", key), lambda: ConfigValue(key, "bool"))
            q = self._guarded(name, "exact", term.value, negating=op == "!=")
            return ~q if op == "!=" else q
        if op in COMPARISONS:
            raise _error(term, f"Expected a number after {op!r}, got {term.value!r}")
        name = self.alias(("config", "text", key), lambda: ConfigValue(key, "text"))
        return self._text_leaf(term, name)

    def _text_leaf(self, term, name):
        op, value = term.op, term.value
        lookups = {":": "iexact", "=": "iexact", "!=": "iexact", "~": "icontains"}
        lookups |= {"!~": "icontains", "regex": "regex", "!regex": "regex"}
        lookup = lookups[op]
        if lookup == "regex" and term.flags:
            lookup = "iregex"
        negating = op in ("!=", "!~", "!regex")
        q = self._guarded(name, lookup, value, negating=negating)
        return ~q if negating else q

    def term_metric(self, term, column):
        # A semi-join on the summaries of one key, one range of `metric_summary_min_idx`
        # (`_max_idx`, `_last_idx`), not a lookup per job: the jobs whose summary matches.
        # Two-valued, so negation needs no guard.
        key, attr = column.target, summary_column(column.target, column.summary)
        rows = MetricSummary.objects.filter(key=key)
        if term.op == "exists":
            return Q(pk__in=rows.filter(**{f"{attr}__isnull": False}).values("job_id"))
        number = _number(term)
        if number is None:
            raise _error(term, f"Expected a number for {term.field!r}, got {term.value!r}")
        op = term.op
        if op in (":", "=", "!="):
            q = Q(pk__in=rows.filter(**{attr: number}).values("job_id"))
            return ~q if op == "!=" else q
        if op in COMPARISONS:
            lookup = f"{attr}__{COMPARISONS[op]}"
            return Q(pk__in=rows.filter(**{lookup: number}).values("job_id"))
        raise _error(
            term, f"{term.field!r} is a number: expected ':', '=', '!=', '<', '<=', '>' or '>='"
        )


def regex_required_literal(pattern, *, ignore_case=False):
    """The longest run of plain characters every match of `pattern` contains ("qwen-sft-"
    for `^qwen-sft-[0-9]*7$`), or "" when there is none of two characters or more or the
    pattern is not one Python reads. Under `ignore_case` only an ASCII run counts (SQLite
    folds the case of ASCII letters only)."""
    try:
        parsed = _re_parser.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return ""
    ignore_case = ignore_case or bool(parsed.state.flags & re.IGNORECASE)
    runs, run = [], []
    for op, value in parsed:
        if op is _re_constants.LITERAL:
            run.append(chr(value))
        else:
            runs.append("".join(run))
            run = []
    runs.append("".join(run))
    runs = [r for r in runs if len(r) >= 2 and (r.isascii() or not ignore_case)]
    return max(runs, key=len, default="")


def text_search(text):
    """Jobs whose name, uid, model or dataset contains `text` (any case)."""
    return (
        Q(name__icontains=text)
        | Q(uid__icontains=text)
        | Q(base_model__icontains=text)
        | Q(dataset__icontains=text)
    )


def mentions_archived(tree):
    """Whether a query names `archived` anywhere (then archived jobs are not hidden)."""
    if isinstance(tree, Term):
        return tree.field == "archived"
    if isinstance(tree, Not):
        return mentions_archived(tree.node)
    if isinstance(tree, (And, Or)):
        return any(mentions_archived(node) for node in tree.nodes)
    return False


def query_apply(queryset, text, *, now=None):
    """`queryset` narrowed to the jobs `text` matches, in the database.

    Archived jobs are left out unless the query names `archived` (`archived:true` finds
    them, `archived:false` says so explicitly). Raises `QuerySyntaxError` for a query that
    cannot be read or names an unknown field (a bare name is a config key when some job of
    `queryset` has it in its config).
    """
    tree = query_parse(text)
    if not mentions_archived(tree):
        queryset = queryset.filter(archived=False)
    if tree is None:
        return queryset
    compiler = _Compiler(queryset, now or timezone.now())
    q = compiler.compile(tree)
    aliases = dict(compiler.aliases.values())
    if aliases:
        queryset = queryset.alias(**aliases)
    return queryset.filter(q)


# --- sorting --------------------------------------------------------------------------


def sort_expressions(column_name, *, now=None):
    """The ORDER BY expressions (ascending) of a runs-table column; `InvalidInput` naming
    `sort` for an unknown one. Config columns sort numbers before strings."""
    column = column_resolve(column_name, field="sort")
    if column.kind == "config":
        return [ConfigValue(column.target, "number"), ConfigValue(column.target, "text")]
    if column.kind == "metric":
        return [_metric(column.target, column.summary)]
    if column.kind == "duration":
        return [_duration(now or timezone.now())]
    return [F(column.target)]


def sort_apply(queryset, sort, *, now=None):
    """`queryset` ordered by `sort` (a column name, "-" first for descending), missing
    values last either way, then newest first."""
    sort = (sort or "").strip()
    if not sort:
        return queryset
    descending = sort.startswith("-")
    name = sort[1:] if descending else sort
    if not name:
        raise InvalidInput({"sort": ["Expected a column name after '-'."]})
    column = column_resolve(name, field="sort")
    if column.kind == "metric":
        # One LEFT JOIN on the key's summaries (unique per job) orders faster than a
        # correlated lookup per row.
        summaries = FilteredRelation(
            "metric_summaries", condition=Q(metric_summaries__key=column.target)
        )
        queryset = queryset.alias(_sort_summary=summaries)
        attr = summary_column(column.target, column.summary)
        expressions = [F(f"_sort_summary__{attr}")]
    else:
        expressions = sort_expressions(name, now=now)
    order = [e.desc(nulls_last=True) if descending else e.asc(nulls_last=True) for e in expressions]
    return queryset.order_by(*order, "-created_at", "-id")
