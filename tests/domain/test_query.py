"""The query language: its grammar (every operator, precedence, errors with their
position) and its results, which must equal a brute-force Python filter over the same
jobs — on SQLite and, with DATABASE_URL, on PostgreSQL."""

import math
import re
from datetime import UTC, datetime, timedelta

import pytest

from jobs import services
from jobs.models import Job, MetricPoint, MetricSummary, loss_like
from jobs.query import (
    And,
    Not,
    Or,
    QuerySyntaxError,
    Term,
    Text,
    mentions_archived,
    query_apply,
    query_parse,
    regex_required_literal,
    sort_apply,
)
from tests.factories import make_job

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# --- grammar ----------------------------------------------------------------------------


def term(field, op, value, **kw):
    parsed = query_parse(f"{field}{op}{value}")
    assert isinstance(parsed, Term)
    assert (parsed.field, parsed.op, parsed.value) == (field, kw.get("as_op", op), value)
    return parsed


@pytest.mark.parametrize("op", [":", "=", "!=", "<", "<=", ">", ">=", "~"])
def test_every_comparison_operator_parses(op):
    term("config.lr", op, "1e-4")


def test_colon_tilde_is_contains_and_bang_tilde_is_not_contains():
    assert query_parse("model:~llama").op == "~"
    assert query_parse("model!~llama").op == "!~"


@pytest.mark.parametrize(
    ("pattern", "ignore_case", "literal"),
    [
        ("^qwen-sft-[0-9]*7$", False, "qwen-sft-"),
        ("qwen.*sft", False, "qwen"),
        ("x{2}yz", False, "yz"),
        (r"llama\.3", False, "llama.3"),
        ("ab?c", False, ""),  # no run of two plain characters
        ("lora|dpo", False, ""),  # either branch may match
        ("(", False, ""),  # not a pattern Python reads
        ("é-sft", False, "é-sft"),
        ("é-sft", True, ""),  # SQLite folds the case of ASCII only
    ],
)
def test_a_regex_prefilters_on_the_literal_every_match_contains(pattern, ignore_case, literal):
    assert regex_required_literal(pattern, ignore_case=ignore_case) == literal


def test_regex_values_take_flags_and_escaped_slashes():
    parsed = query_parse(r"name:/qwen.*\/sft/i")
    assert (parsed.op, parsed.value, parsed.flags) == ("regex", "qwen.*/sft", "i")
    assert query_parse("name!=/x/").op == "!regex"


def test_quoted_values_and_fields_keep_spaces_and_escapes():
    parsed = query_parse(r'name:"my \"best\" run"')
    assert parsed.value == 'my "best" run' and parsed.quoted
    parsed = query_parse("'warmup ratio'>=0.1")
    assert (parsed.field, parsed.op, parsed.value) == ("warmup ratio", ">=", "0.1")


def test_star_after_colon_asks_whether_a_value_exists():
    assert query_parse("config.lr:*").op == "exists"


def test_words_without_operator_are_text_terms():
    assert query_parse('llama "alpaca lora"') == And((Text("llama", 0), Text("alpaca lora", 6)))


def test_juxtaposition_binds_tighter_than_or():
    tree = query_parse("a b OR c")
    assert tree == Or((And((Text("a", 0), Text("b", 2))), Text("c", 7)))
    assert query_parse("a AND b") == And((Text("a", 0), Text("b", 6)))


def test_negation_binds_tighter_than_and_and_parentheses_group():
    tree = query_parse("-a b")
    assert tree == And((Not(Text("a", 1)), Text("b", 3)))
    tree = query_parse("NOT (a OR b) c")
    assert tree == And((Not(Or((Text("a", 5), Text("b", 10)))), Text("c", 13)))


def test_a_dash_inside_a_word_or_value_is_not_negation():
    assert query_parse("llama-3") == Text("llama-3", 0)
    assert query_parse("lr>-1").value == "-1"


def test_archived_is_a_field_whose_mention_anywhere_shows_archived_jobs():
    assert query_parse("archived:true") == term("archived", ":", "true")
    assert mentions_archived(query_parse("status:running OR -(tag:x archived:false)"))
    assert not mentions_archived(query_parse("status:running OR -(tag:x)"))
    assert not mentions_archived(query_parse('"archived:true"'))


def test_an_empty_query_matches_everything():
    assert query_parse("") is None
    assert query_parse("   ") is None


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("(status:running", 15, "expected ')' to close the '(' at position 0"),
        ("status:running)", 14, "expected a term, OR, or the end"),
        ("lr>=", 4, "expected a value after '>='"),
        ("a OR", 4, "expected a term"),
        ("OR a", 0, "expected a term"),
        ('name:"open', 5, 'expected a closing "'),
        ("name:/open", 5, "expected a closing /"),
        ("name:/(/", 5, "expected a regular expression"),
        ("name!x", 4, "expected != or !~"),
        ("x>/re/", 2, "expected a value after '>'"),
        ("a :b", 2, "expected a field name"),
        ("a ()", 3, "expected a term"),
    ],
)
def test_syntax_errors_say_what_was_expected_and_where(text, position, expected):
    with pytest.raises(QuerySyntaxError) as caught:
        query_parse(text)
    assert caught.value.position == position
    assert caught.value.detail["position"] == position
    assert expected in caught.value.detail["query"][0]


# --- results against brute force -------------------------------------------------------

MODELS = ["Llama-3-8B", "Qwen2-7B", "Mistral-7B"]
DATASETS = ["alpaca", "dolly", "oasst"]
TAGS = [["lora"], ["lora", "8bit"], ["debug"], [], ["full", "debug"]]
OPTIMS = ["adamw_torch", "sgd", "AdamW_8bit"]


def _config(i):
    config = {"optim": OPTIMS[i % 3], "seed": i % 4}
    if i % 5:
        config["lr"] = [1e-4, 2e-5, 3e-4, 5e-5][i % 4]
    else:
        config["lr"] = "auto"  # a string where others have numbers: never a numeric match
    if i % 2:
        config["fp16"] = bool(i % 3)
    if i % 7 == 0:
        config["warmup ratio"] = 0.1 * (i % 3)
    return config


def _values(i, key, steps):
    out = []
    for step in steps:
        value = (1.0 + i % 5) / (step + 1) + (0.01 * i if key == "val/loss" else 0)
        if key == "val/accuracy":
            value = 1 - value / 3
        if i % 9 == 0 and step == 30:
            value = math.nan
        out.append({"key": key, "step": step, "value": value})
    return out


def _corpus_make():
    """30 jobs of every status with varied configs, tags, times and metric series (some
    with NaN, some re-sent with a changed extreme so their summary is recounted)."""
    jobs = []
    statuses = ["queued", "running", "completed", "failed", "cancelled"]
    for i in range(30):
        status = statuses[i % 5]
        job = make_job(
            uid=f"run-{i:02d}",
            name=f"{['qwen-sft', 'llama-dpo', 'mistral-sft'][i % 3]}-{i}",
            model=MODELS[i % 3],
            dataset=DATASETS[(i // 3) % 3],
            tags=TAGS[i % 5],
            config=_config(i),
            status=status,
            step=i * 10 if status != "queued" else None,
        )
        created = NOW - timedelta(days=i, hours=i)
        started = None if status == "queued" else created + timedelta(minutes=5)
        finished = (
            started + timedelta(minutes=30 * (i % 6 + 1))
            if status in ("completed", "failed", "cancelled")
            else None
        )
        Job.objects.filter(pk=job.pk).update(
            created_at=created,
            started_at=started,
            finished_at=finished,
            host=f"gpu-{i % 4}",
            # Every fourth job is archived: hidden unless the query names `archived`.
            archived=i % 4 == 1,
        )
        if status != "queued":
            for key in ("train/loss", "val/loss", "val/accuracy"):
                if key == "val/accuracy" and i % 4 == 0:
                    continue
                services.metrics_ingest(job=job, points=_values(i, key, range(0, 60, 3)))
            if i % 3 == 0:
                # A retry overwriting the minimum: the summary must be recounted.
                services.metrics_ingest(
                    job=job, points=[{"key": "train/loss", "step": 57, "value": 5.0 + i}]
                )
        jobs.append(job.pk)
    return jobs


@pytest.fixture(scope="module")
def corpus_ids(django_db_setup, django_db_blocker):
    """The corpus, made once for this module (setting it up costs seconds) and removed
    after it."""
    with django_db_blocker.unblock():
        ids = _corpus_make()
    yield ids
    with django_db_blocker.unblock():
        Job.objects.filter(pk__in=ids).delete()


@pytest.fixture
def corpus(db, corpus_ids):
    return list(Job.objects.filter(pk__in=corpus_ids))


def _summaries():
    out = {}
    for s in MetricSummary.objects.all():
        out.setdefault(s.job_id, {})[s.key] = s
    return out


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _compare(op, a, b):
    return {
        ":": a == b,
        "=": a == b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]


def _text(op, value, term):
    if value is None:
        return False
    if op in (":", "=", "!="):
        return value.lower() == term.value.lower()
    if op in ("~", "!~"):
        return term.value.lower() in value.lower()
    return re.search(term.value, value, re.I if term.flags else 0) is not None


NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _leaf(t, job, summaries, now):
    """The documented meaning of one term, evaluated in Python."""
    op = t.op
    negate = op in ("!=", "!~", "!regex")
    base_op = {"!=": "=", "!~": "~", "!regex": "regex"}.get(op, op)

    def result(matched):
        return not matched if negate else matched

    field = t.field
    if field == "archived":
        return result(job.archived == (t.value == "true"))
    texts = {"name": job.name, "uid": job.uid, "model": job.base_model}
    texts |= {"dataset": job.dataset, "host": job.host}
    if field in texts or field == "status":
        value = texts.get(field, job.status)
        if op == "exists":
            return value != ""
        return result(_text(base_op, value, t))
    if field == "tag":
        if op == "exists":
            return bool(job.tags)
        if base_op in (":", "="):
            return result(t.value in job.tags)
        return result(t.value.lower() in ("," + ",".join(job.tags) + ",").lower())
    if field == "step":
        return result(_compare(base_op, job.current_step, float(t.value)))
    if field == "duration":
        if job.started_at is None:
            return negate
        seconds = ((job.finished_at or now) - job.started_at).total_seconds()
        wanted = float(t.value[:-1]) * {"m": 60, "h": 3600}[t.value[-1]]
        return result(_compare(base_op, seconds, wanted))
    if field in ("created", "started", "finished"):
        moment = getattr(job, f"{field}_at")
        if moment is None:
            return negate
        start = datetime.fromisoformat(t.value).replace(tzinfo=UTC)
        end = start + timedelta(days=1)
        matched = {
            "=": start <= moment < end,
            ":": start <= moment < end,
            "<": moment < start,
            "<=": moment < end,
            ">": moment >= end,
            ">=": moment >= start,
        }[base_op]
        return result(matched)
    if field.endswith((".last", ".min", ".max", ".best_step", ".count")):
        key, summary = field.rsplit(".", 1)
        s = summaries.get(job.pk, {}).get(key)
        if summary == "best_step":
            summary = "min_step" if loss_like(key) else "max_step"
        elif summary != "count":
            summary += "_value"
        value = None if s is None else getattr(s, summary)
        if op == "exists":
            return value is not None
        if value is None:
            return negate
        return result(_compare(base_op, value, float(t.value)))
    key = field.removeprefix("config.")
    if op == "exists":
        return key in job.config
    value = job.config.get(key)
    if not t.quoted and NUMBER_RE.fullmatch(t.value) and base_op not in ("~", "regex"):
        return result(_num(value) and _compare(base_op, value, float(t.value)))
    if not t.quoted and t.value in ("true", "false"):
        return result(isinstance(value, bool) and value == (t.value == "true"))
    return result(isinstance(value, str) and _text(base_op, value, t))


def brute_force(tree, job, summaries, now):
    if isinstance(tree, Or):
        return any(brute_force(n, job, summaries, now) for n in tree.nodes)
    if isinstance(tree, And):
        return all(brute_force(n, job, summaries, now) for n in tree.nodes)
    if isinstance(tree, Not):
        return not brute_force(tree.node, job, summaries, now)
    if isinstance(tree, Text):
        fields = (job.name, job.uid, job.base_model, job.dataset)
        return any(tree.text.lower() in f.lower() for f in fields)
    return _leaf(tree, job, summaries, now)


QUERIES = [
    "status:running",
    "status=completed",
    "status!=failed",
    "-status:queued",
    "name:~sft",
    "name!~sft",
    "name:/^qwen.*sft/",
    "name:/QWEN/i",
    "name!=/dpo/",
    "name:/^qwen-sft-[0-9]*7$/",
    "name:/SFT-1/i",
    "-name:/sft-2[0-9]$/",
    "model:/Llama-3|Qwen2/",
    "model:llama-3-8b",
    "model:~llama",
    "dataset:alpaca OR dataset:dolly",
    "(dataset:alpaca OR dataset:dolly) -tag:debug",
    "tag:lora",
    "tag!=lora",
    "tag:~bi",
    "tag:*",
    "-tag:*",
    "host:gpu-1",
    "uid:run-07",
    "step>=100",
    "step<50 step>0",
    "step=120",
    "duration>1h",
    "duration<=90m",
    "-duration>1h",
    "created>2026-11-10",
    "created>=2026-11-10",
    "created<2026-11-05",
    "created<=2026-11-05",
    "created:2026-11-18",
    "created!=2026-11-18",
    "finished>2026-11-01",
    "-finished<2026-11-01",
    "lr>=1e-4",
    "lr<1e-4",
    "config.lr=3e-4",
    "config.lr!=3e-4",
    "config.lr:auto",
    "config.lr:*",
    "config.optim=adamw_torch",
    "config.optim:ADAMW_8BIT",
    "config.optim~adam",
    "config.optim:/^adam/",
    "config.optim!=sgd",
    "config.fp16=true",
    "config.fp16:false",
    "-config.fp16=true",
    "config.seed=2",
    "config.seed>=1 config.seed<3",
    "'warmup ratio'>0.05",
    "-lr>1e-4",
    "val/loss.min<0.2",
    "val/loss.min<0.2 OR train/loss.last>0.05",
    "train/loss.max>5",
    "train/loss.last<0.1",
    "val/accuracy.max>0.9",
    "val/accuracy.best_step<=30",
    "train/loss.best_step>0",
    "train/loss.count>=20",
    "val/accuracy.min:*",
    "-val/accuracy.max>0.9",
    "sft",
    "llama alpaca",
    '"qwen-sft"',
    "sft OR dpo -status:failed",
    "status:running tag:lora model:~llama lr>=1e-4 config.optim=adamw_torch",
    "(status:completed OR status:failed) (tag:lora OR tag:full) -(lr<1e-4)",
    "NOT (step>100 AND config.optim:sgd)",
    "archived:true",
    "archived=false",
    "archived!=true",
    "-archived:true",
    "archived:true tag:lora",
    "archived:true OR status:running",
    "(archived:true OR archived:false) status:completed",
]


@pytest.mark.parametrize("text", QUERIES)
def test_query_results_equal_a_brute_force_filter(corpus, text):
    tree = query_parse(text)
    summaries = _summaries()
    # Archived jobs are left out unless the query names `archived` (docs/query.md).
    shown = [job for job in corpus if mentions_archived(tree) or not job.archived]
    expected = {job.uid for job in shown if brute_force(tree, job, summaries, NOW)}
    got = set(query_apply(Job.objects.all(), text, now=NOW).values_list("uid", flat=True))
    assert got == expected


def test_the_corpus_makes_each_query_informative(corpus):
    """Each comparison of the brute-force test keeps some jobs and drops others (most of
    them), so an equal result is evidence, not two empty sets."""
    informative = 0
    for text in QUERIES:
        n = query_apply(Job.objects.all(), text, now=NOW).count()
        informative += 0 < n < len(corpus)
    assert informative >= len(QUERIES) - 3


def test_summaries_equal_a_recount_of_the_points(corpus):
    for summary in MetricSummary.objects.all():
        points = list(
            MetricPoint.objects.filter(job_id=summary.job_id, key=summary.key).order_by("step")
        )
        finite = [p for p in points if p.value is not None]
        low = min(finite, key=lambda p: (p.value, p.step))
        high = max(finite, key=lambda p: (p.value, -p.step))
        assert summary.count == len(points)
        assert (summary.last_step, summary.last_value) == (points[-1].step, points[-1].value)
        assert (summary.min_step, summary.min_value) == (low.step, low.value)
        assert (summary.max_step, summary.max_value) == (high.step, high.value)


def test_an_unknown_bare_field_is_an_error_naming_it(corpus):
    with pytest.raises(QuerySyntaxError) as caught:
        query_apply(Job.objects.all(), "status:running lrr>1")
    assert caught.value.position == 15
    assert "Unknown field 'lrr'" in caught.value.detail["query"][0]


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("step>abc", 5, "Expected a number for 'step'"),
        ("name>a", 5, "expected ':', '=', '!=', '~' or /regex/"),
        ("status:runing", 7, "expected one of queued, running"),
        ("created>yesterday", 8, "Expected a date"),
        ("config.optim>adam", 13, "Expected a number after '>'"),
        ("val/loss.min<low", 13, "Expected a number for 'val/loss.min'"),
        ("duration>long", 9, "Expected a duration"),
        ("tag>x", 4, "'tag' matches whole tags"),
        ("archived:maybe", 9, "'archived' is true or false"),
        ("archived>0", 9, "'archived' is true or false"),
        ('archived:"true"', 9, "'archived' is true or false"),
    ],
)
def test_a_value_of_the_wrong_type_is_an_error_at_the_value(corpus, text, position, expected):
    with pytest.raises(QuerySyntaxError) as caught:
        query_apply(Job.objects.all(), text, now=NOW)
    assert caught.value.position == position
    assert expected in caught.value.detail["query"][0]


@pytest.mark.parametrize(
    "column",
    ["name", "status", "step", "duration", "created", "config.lr", "val/loss.min", "model"],
)
def test_sorting_by_a_column_puts_missing_values_last_both_ways(corpus, column):
    summaries = _summaries()

    def value(job):
        if column == "config.lr":
            v = job.config.get("lr")
            return (0, v) if _num(v) else ((1, v) if isinstance(v, str) else None)
        if column == "val/loss.min":
            s = summaries.get(job.pk, {}).get("val/loss")
            return None if s is None else s.min_value
        if column == "duration":
            if job.started_at is None:
                return None
            return ((job.finished_at or NOW) - job.started_at).total_seconds()
        attr = {"step": "current_step", "created": "created_at", "model": "base_model"}
        return getattr(job, attr.get(column, column))

    for descending in (False, True):
        ordered = list(sort_apply(Job.objects.all(), ("-" if descending else "") + column, now=NOW))
        values = [value(job) for job in ordered]
        present = [v for v in values if v is not None]
        assert values == present + [None] * (len(values) - len(present))
        if column == "config.lr":
            # Numbers before strings either way, each group in the asked direction.
            groups = [[v for v in present if v[0] == kind] for kind in (0, 1)]
            assert present == [v for g in groups for v in sorted(g, reverse=descending)]
        else:
            assert present == sorted(present, reverse=descending)


def test_an_unknown_sort_column_names_the_sort_parameter(db):
    with pytest.raises(QuerySyntaxError) as caught:
        sort_apply(Job.objects.all(), "-nonsense")
    assert "sort" in caught.value.detail


def test_the_migration_fills_summaries_from_the_points_of_existing_jobs(db):
    import importlib

    from django.apps import apps

    from tests.domain.invariants import metric_summaries_disagreeing
    from tests.factories import add_points

    migration = importlib.import_module("jobs.migrations.0008_metric_summaries_saved_views")
    job = make_job(status="running")
    add_points(job, [3.0, None, 1.0, 1.0, 2.0, float("inf")])
    add_points(job, [0.5, 0.7], key="val/loss", start=10)
    MetricSummary.objects.all().delete()
    migration.fill_summaries(apps, None)
    assert MetricSummary.objects.filter(job=job).count() == 2
    assert metric_summaries_disagreeing(job.pk) == []
