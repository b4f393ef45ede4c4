"""B9 — the query language: 10 000 jobs × 40 config keys × 20 metric keys.

`/api/jobs?query=` for five representative queries (config comparison, metric summary
comparison, OR of tags, regex on name, sort by a metric), p95 ≤ 150 ms each; `/runs`
with metric and config columns, p95 (server time); the number of SQL queries of each
does not depend on the number of jobs (counted at 1 000 and at 10 000 jobs).

The jobs, their stages and metric summaries are written in bulk through the ORM (as
the test factories do): the queries read jobs and summaries only, never points, and
reporting 200 000 series through the API first would take the benchmark's whole budget.
Run with DATABASE_URL (an existing, empty database) for PostgreSQL; B9_JOBS=2000 runs
it smaller (a check that it runs end to end, not a B9 figure).
"""

import http.client
import os
import subprocess
import sys
from urllib.parse import urlencode

from harness import PYTHON, ROOT, Server, check, machine, summary_ms, timed, write_result

JOBS = int(os.environ.get("B9_JOBS", "10000"))
JOBS_LABEL = f"{JOBS:,}".replace(",", " ")
CONFIG_KEYS = 40
METRIC_KEYS = 20

POPULATE = """
import random
from datetime import timedelta
from django.utils import timezone
from jobs.models import Job, MetricSummary, Stage, STAGE_ORDER
random.seed({seed})
now = timezone.now()
statuses = ["completed"] * 6 + ["failed", "running", "queued", "cancelled"]
optims = ["adamw_torch", "adamw_8bit", "sgd", "adafactor"]
tags = [["lora"], ["qlora"], ["full"], ["lora", "8bit"], ["debug"], []]
metric_keys = ["train/loss", "val/loss", "val/accuracy"] + [f"m/k{{i}}" for i in range(17)]
for start in range({first}, {last}, 1000):
    jobs = []
    for n in range(start, min(start + 1000, {last})):
        config = {{"lr": random.choice([1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 3e-4]),
                   "optim": random.choice(optims), "batch_size": random.choice([8, 16, 32]),
                   "seed": n % 5}}
        for k in range({config_keys} - 4):
            config[f"c{{k}}"] = random.random() if k % 3 else f"v{{random.randint(0, 9)}}"
        status = random.choice(statuses)
        created = now - timedelta(minutes=n)
        jobs.append(Job(
            uid=f"b9-{{n}}", name=f"{{random.choice(['qwen', 'llama', 'mistral'])}}-sft-{{n}}",
            base_model=f"model-{{n % 7}}", dataset=f"ds-{{n % 5}}", tags=random.choice(tags),
            tags_text="", config=config, status=status, current_step=n % 1000,
            total_steps=1000, created_at=created, queued_at=created,
            started_at=None if status == "queued" else created + timedelta(seconds=30),
            finished_at=None if status in ("queued", "running") else created + timedelta(hours=1),
        ))
    for job in jobs:
        job.tags_text = "," + ",".join(job.tags) + "," if job.tags else ""
    Job.objects.bulk_create(jobs, batch_size=500)
    Stage.objects.bulk_create(
        [Stage(job=j, name=name, order=o) for j in jobs for o, name in enumerate(STAGE_ORDER)],
        batch_size=2000,
    )
    summaries = []
    for job in jobs:
        if job.status == "queued":
            continue
        for key in metric_keys[:{metric_keys}]:
            low = random.random()
            summaries.append(MetricSummary(
                job=job, key=key, count=100, last_step=99, last_value=low + 0.1,
                min_step=random.randint(0, 99), min_value=low,
                max_step=random.randint(0, 99), max_value=low + 1,
            ))
    MetricSummary.objects.bulk_create(summaries, batch_size=2000)
from django.db import connection
if connection.vendor == "postgresql":
    # Planner statistics, as autovacuum keeps them on a live database.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
print("ok")
"""

QUERIES = {
    "config comparison": {"query": "lr>=1e-4 config.optim=adamw_torch"},
    "metric summary comparison": {"query": "val/loss.min<0.05 status:completed"},
    "OR of tags": {"query": "tag:qlora OR tag:debug"},
    "regex on name": {"query": "name:/^qwen-sft-[0-9]*7$/"},
    "sort by a metric": {"query": "status:completed", "sort": "-val/accuracy.max"},
}
RUNS_PAGE = {
    "query": "lr>=1e-4 -tag:debug",
    "columns": "status,model,config.lr,config.optim,val/loss.min,val/accuracy.max,train/loss.last",
    "sort": "val/loss.min",
}

COUNT_QUERIES = """
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.db import connection
from django.conf import settings
client = Client(HTTP_HOST="127.0.0.1")
# The benchmark's signed-in session (force_login would record an unknown client address,
# which PostgreSQL's inet column refuses).
client.cookies[settings.SESSION_COOKIE_NAME] = SESSION
counts = {}
for name, path in PATHS.items():
    client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    counts[name] = len(ctx.captured_queries)
print(counts)
"""


def paths():
    out = {name: "/api/jobs?" + urlencode(params) for name, params in QUERIES.items()}
    out["/runs"] = "/runs?" + urlencode(RUNS_PAGE)
    return out


def shell(server, code):
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        sys.exit(result.stderr)
    return result.stdout.strip().splitlines()[-1]


def populate(server, first, last):
    code = POPULATE.format(
        seed=first, first=first, last=last, config_keys=CONFIG_KEYS, metric_keys=METRIC_KEYS
    )
    shell(server, code)


def query_counts(server):
    prelude = f"PATHS = {paths()!r}\nSESSION = {server.session!r}\n"
    return eval(shell(server, prelude + COUNT_QUERIES))


# Navigation start → the first contentful paint, and → the table's rows in the DOM.
PAINT = """() => {
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  const rows = document.querySelectorAll("table tbody tr").length;
  return { fcp: paint ? paint.startTime : null, rows };
}"""


FCP_SEEN = "() => performance.getEntriesByName('first-contentful-paint').length > 0"


def first_paint(server, path, loads=8):
    """`/runs` in headless Chromium (signed in): first contentful paint of each warm load
    (the first load fills the caches and is not counted), and the rows it shows."""
    from playwright.sync_api import sync_playwright

    paints, rows = [], 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": server.session, "url": server.url}])
        page = context.new_page()
        for n in range(loads + 1):
            page.goto(server.url + path, wait_until="load")
            page.wait_for_function(FCP_SEEN)
            state = page.evaluate(PAINT)
            rows = state["rows"]
            if n:
                paints.append(state["fcp"] / 1000)
        browser.close()
    return {**summary_ms(paints), "rows": rows}


def main():
    with Server() as server:
        populate(server, 0, 1000)
        at_1000 = query_counts(server)
        populate(server, 1000, JOBS)
        at_10000 = query_counts(server)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        timings = {
            name: timed(server, conn, path, cookie=False)
            for name, path in paths().items()
            if name != "/runs"
        }
        runs = timed(server, conn, paths()["/runs"], cookie=True)
        paint = first_paint(server, paths()["/runs"])
        database = machine()["database"]
        checks = [
            check(
                f"B9 `/api/jobs?query=` {name}, {JOBS_LABEL} jobs ({database}), p95",
                f"{t['p95_ms']} ms",
                "≤ 150 ms",
                t["p95_ms"] <= 150,
            )
            for name, t in timings.items()
        ]
        checks.append(
            check(
                f"B9 `/runs` with 7 columns, {JOBS_LABEL} jobs ({database}), first contentful "
                f"paint in Chromium, p95 of {paint['n']} warm loads ({paint['rows']} rows shown)",
                f"{paint['p95_ms']} ms (server p95 {runs['p95_ms']} ms)",
                "≤ 1 s",
                paint["p95_ms"] <= 1000 and paint["rows"] > 0,
            )
        )
        checks.append(
            check(
                f"B9 SQL queries per request at 1 000 and {JOBS_LABEL} jobs ({database})",
                f"{at_1000} / {at_10000}",
                "equal",
                at_1000 == at_10000,
            )
        )
        result = {
            "id": "B9",
            "name": "query language",
            "machine": machine(),
            "jobs": JOBS,
            "config_keys": CONFIG_KEYS,
            "metric_keys": METRIC_KEYS,
            "queries": {name: {**QUERIES[name], **t} for name, t in timings.items()},
            "runs_page": {**RUNS_PAGE, **runs},
            "runs_page_first_paint": paint,
            # This machine is shared: a high load average means noisy percentiles.
            "load_average_1m": round(os.getloadavg()[0], 2),
            "queries_at_1000_jobs": at_1000,
            "queries_at_10000_jobs": at_10000,
            "checks": checks,
        }
        suffix = "_postgresql" if database == "postgresql" else ""
        write_result(f"b9_query{suffix}", result)
        for item in checks:
            print(f"{item['what']}: {item['measured']} ({item['target']})")


if __name__ == "__main__":
    main()
