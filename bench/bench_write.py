"""B5w — writes whose cost does not grow with the number of jobs.

With 100, 1 000 and 10 000 queued jobs present (seeded in bulk), one client creates a
job (`POST /api/jobs`) and moves the job at the head of the queue to running
(`POST /api/jobs/{uid}/status {"status": "running"}`), 100 times each, one request at a
time over one keep-alive HTTP connection (Python's http.client) to daphne on loopback.
Each request is timed from send to the last byte of the response; 5 pairs per size are
warm-up and not counted. Beside each pair a one-point metrics POST to a running job is
timed the same way: the floor of any write on this server at that moment (the machine
may be shared). Also counts the SQL queries of one create and one start at each size.

Run on SQLite (a fresh file) and on PostgreSQL (a scratch database created and dropped
on the server of `B5W_POSTGRES`, default postgres://postgres@127.0.0.1:5432; skipped
when it cannot be reached). Targets: p95 ≤ 20 ms per write at every size, on both, and
the same number of queries at 100 and 10 000 jobs.
"""

import http.client
import json
import os
import subprocess
import time

from harness import PYTHON, ROOT, Server, check, machine, summary_ms, write_result

SIZES = (100, 1_000, 10_000)
SAMPLES = 100
WARMUP = 5
TARGET_MS = 20
POSTGRES = os.environ.get("B5W_POSTGRES", "postgres://postgres@127.0.0.1:5432")
SCRATCH_DB = "tuneboard_bench_b5w"

# Queued jobs with their five stages, in bulk: queued before anything the benchmark
# creates, oldest first by number.
SEED = """
from datetime import timedelta
from django.utils import timezone
from jobs.models import STAGE_ORDER, Job, Stage
start = timezone.now() - timedelta(days=1)
jobs = Job.objects.bulk_create(
    [
        Job(
            uid=f"seed-{{n}}",
            name=f"seeded job {{n}}",
            base_model="meta-llama/Llama-3-8B",
            dataset="tatsu-lab/alpaca",
            tags=["bench"],
            created_at=start + timedelta(milliseconds=n),
            queued_at=start + timedelta(milliseconds=n),
        )
        for n in range({first}, {last})
    ],
    batch_size=1000,
)
Stage.objects.bulk_create(
    [Stage(job=job, name=name, order=o) for job in jobs for o, name in enumerate(STAGE_ORDER)],
    batch_size=5000,
)
"""

COUNT_QUERIES = """
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from jobs.models import Job
client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION="Bearer {token}")
head = Job.objects.filter(status="queued").order_by("queued_at", "id").first()
client.get("/api/jobs?page_size=1")  # the token's last-used stamp, written once a minute
with CaptureQueriesContext(connection) as create:
    created = client.post("/api/jobs", {{"name": "counted"}}, content_type="application/json")
with CaptureQueriesContext(connection) as start:
    started = client.post(
        f"/api/jobs/{{head.uid}}/status", {{"status": "running"}}, content_type="application/json"
    )
assert created.status_code == 201 and started.status_code == 200
print(json.dumps({{
    "create": len(create.captured_queries),
    "start": len(start.captured_queries),
    "created": created.json()["uid"],
    "started": head.uid,
}}))
"""


def seed(server, first, last):
    server.manage("shell", "-c", SEED.format(first=first, last=last))


def query_counts(server):
    script = "import json\n" + COUNT_QUERIES.format(token=server.token)
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def timed_post(server, conn, path, body):
    start = time.perf_counter()
    conn.request("POST", path, body=json.dumps(body), headers=server.headers)
    response = conn.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - start
    assert response.status in (200, 201), (path, response.status, payload[:200])
    return elapsed, json.loads(payload)


class Queue:
    """The uids of the queued jobs in queue order: seeded jobs (queued a day ago, oldest
    first) ahead of the jobs the benchmark created."""

    def __init__(self):
        self.seeded, self.created = [], []

    def head(self):
        return (self.seeded or self.created).pop(0)


def measure(server, conn, size, queue, running):
    """Create a job, then start the queue's head: the number of queued jobs stays `size`.

    Beside each pair, the floor: a one-point metrics POST to a running job.
    """
    creates, starts, floor = [], [], []
    positions = []
    for n in range(WARMUP + SAMPLES):
        point = {"points": [{"key": "train/loss", "step": size * 1000 + n, "value": 1.0}]}
        metrics, _ = timed_post(server, conn, f"/api/jobs/{running}/metrics", point)
        body = {"name": f"b5w {size} {n}", "model": "meta-llama/Llama-3-8B", "tags": ["b5w"]}
        created, job = timed_post(server, conn, "/api/jobs", body)
        queue.created.append(job["uid"])
        started, _ = timed_post(
            server, conn, f"/api/jobs/{queue.head()}/status", {"status": "running"}
        )
        if n >= WARMUP:
            creates.append(created)
            starts.append(started)
            floor.append(metrics)
            positions.append(job["queue_position"])
    return creates, starts, floor, positions


def run(label, env=None):
    results = {}
    with Server(env=env) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        _, job = timed_post(server, conn, "/api/jobs", {"name": "b5w metrics floor"})
        timed_post(server, conn, f"/api/jobs/{job['uid']}/status", {"status": "running"})
        running = job["uid"]
        present, queue = 0, Queue()
        for size in SIZES:
            seed(server, present, size)
            queue.seeded += [f"seed-{n}" for n in range(present, size)]
            present = size
            counts = query_counts(server)
            assert queue.head() == counts.pop("started")
            queue.created.append(counts.pop("created"))
            creates, starts, floor, positions = measure(server, conn, size, queue, running)
            results[size] = {
                "queued_jobs_present": size,
                "create": summary_ms(creates),
                "start": summary_ms(starts),
                "all_writes": summary_ms(creates + starts),
                "one_point_metrics_post": summary_ms(floor),
                "queries": counts,
                # Each created job joins the tail, behind the `size` jobs present.
                "created_positions": [min(positions), max(positions)],
            }
            print(label, size, json.dumps(results[size]), flush=True)
        conn.close()
    return results


def postgres_url():
    """A fresh scratch database on the PostgreSQL server, or None when unreachable."""
    import psycopg

    try:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=3) as db:
            db.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
            db.execute(f"CREATE DATABASE {SCRATCH_DB}")
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable at {POSTGRES}: {exc}")
        return None
    return f"{POSTGRES}/{SCRATCH_DB}"


def postgres_drop():
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")


def checks_of(label, results):
    out = []
    for size, result in results.items():
        p95 = result["all_writes"]["p95_ms"]
        out.append(
            check(
                f"B5w {label}: create + start with {size:,} queued jobs, p95 per write",
                f"{p95} ms (create {result['create']['p95_ms']}, "
                f"start {result['start']['p95_ms']}; one-point metrics POST "
                f"{result['one_point_metrics_post']['p95_ms']})",
                f"≤ {TARGET_MS} ms",
                p95 <= TARGET_MS,
            )
        )
    small, large = results[SIZES[0]]["all_writes"], results[SIZES[-1]]["all_writes"]
    out.append(
        check(
            f"B5w {label}: flat, p50 per write at {SIZES[-1]:,} vs {SIZES[0]:,} jobs",
            f"{large['p50_ms']} vs {small['p50_ms']} ms",
            "≤ 1.5×",
            large["p50_ms"] <= 1.5 * small["p50_ms"],
        )
    )
    first, last = results[SIZES[0]]["queries"], results[SIZES[-1]]["queries"]
    out.append(
        check(
            f"B5w {label}: queries of a create / a start at {SIZES[0]:,} vs {SIZES[-1]:,} jobs",
            f"{first['create']}/{first['start']} vs {last['create']}/{last['start']}",
            "equal",
            first == last,
        )
    )
    return out


def main():
    os.environ.pop("DATABASE_URL", None)
    runs = {"sqlite": run("sqlite")}
    url = postgres_url()
    if url:
        try:
            runs["postgresql"] = run("postgresql", env={"DATABASE_URL": url})
        finally:
            postgres_drop()
    checks = []
    for label, results in runs.items():
        checks += checks_of("SQLite" if label == "sqlite" else "PostgreSQL", results)
    result = {
        "id": "B5w",
        "name": "writes with many jobs present",
        "machine": machine(),
        "method": (
            f"{SAMPLES} POST /api/jobs and {SAMPLES} POST /api/jobs/{{uid}}/status running "
            f"(the queue's head) per size, alternating, after {WARMUP} warm-up pairs, each "
            "beside a one-point POST /api/jobs/{uid}/metrics to a running job (the floor of "
            "a write on the same server at the same moment); one "
            "client (http.client, one keep-alive connection, one request at a time) against "
            "daphne on loopback; time from send to the response's last byte; percentiles "
            "nearest-rank over the samples; jobs present are queued, seeded in bulk."
        ),
        "sizes": list(SIZES),
        "results": {label: {str(k): v for k, v in r.items()} for label, r in runs.items()},
        "checks": checks,
    }
    write_result("b5w_writes", result)
    print(json.dumps(result["checks"], indent=2))


if __name__ == "__main__":
    main()
