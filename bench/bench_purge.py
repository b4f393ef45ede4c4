"""B1 during a purge: ingest throughput while `purge_trash` removes a large deleted job,
against the same ingest without a purge.

One client posts 10 000-point batches to a fresh job (B1's load) for `--duration`
seconds: first alone (the baseline), then while `manage.py purge_trash` runs in its own
process over a job of `--points` points deleted 31 days ago. The purge deletes in
batches of `--purge-batch` rows, each its own transaction, so ingest keeps its pace.

Target (issue 17): B1 during the purge of a 2-million-point job stays within 20 % of B1
without it. `--points 200000 --dry-run` checks that the benchmark works on a busy
machine without writing a result.

    python bench/bench_purge.py                      # 2,000,000 points; writes the result
    python bench/bench_purge.py --points 200000 --duration 10 --dry-run
"""

import argparse
import http.client
import json
import subprocess
import time

from harness import PYTHON, ROOT, Server, check, machine, summary_ms, write_result

KEYS = [f"metric/{i}" for i in range(10)]
FILL_BATCH = 10_000

TRASH_SCRIPT = """
from datetime import timedelta
from django.utils import timezone
from jobs.models import Job
Job.objects.filter(uid={uid!r}).update(deleted_at=timezone.now() - timedelta(days=31))
"""
EXISTS_SCRIPT = """
from jobs.models import Job
print(Job.objects.filter(uid={uid!r}).exists())
"""


def batch_body(start_step, n_points):
    """`n_points` points spread over the ten keys, steps from `start_step` on."""
    per_key = n_points // len(KEYS)
    points = [
        {"key": key, "step": start_step + i, "value": 1.0 / (1 + start_step + i)}
        for key in KEYS
        for i in range(per_key)
    ]
    return json.dumps({"points": points}).encode(), start_step + per_key


class Poster:
    """A keep-alive connection posting batches to one job's metrics."""

    def __init__(self, server, uid):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        self.path = f"/api/jobs/{uid}/metrics"
        self.headers = server.headers
        self.step = 0

    def post(self, n_points):
        body, self.step = batch_body(self.step, n_points)
        t0 = time.perf_counter()
        self.conn.request("POST", self.path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        return time.perf_counter() - t0


def ingest(poster, *, duration, batch, until=None):
    """Post `batch`-point batches for `duration` s (or until `until()` is true); returns
    (points posted, seconds, latencies)."""
    posted, latencies = 0, []
    started = time.perf_counter()
    while time.perf_counter() - started < duration and not (until and until()):
        latencies.append(poster.post(batch))
        posted += batch
    return posted, time.perf_counter() - started, latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=2_000_000, help="Size of the purged job.")
    parser.add_argument("--duration", type=float, default=30.0, help="Seconds of each phase.")
    parser.add_argument("--batch", type=int, default=10_000, help="Points per ingest batch.")
    parser.add_argument("--purge-batch", type=int, default=5_000, help="Rows per purge batch.")
    parser.add_argument(
        "--duty", type=float, default=0.5, help="purge_trash --duty (its share of the time)."
    )
    parser.add_argument("--dry-run", action="store_true", help="Print; write no result.")
    args = parser.parse_args()

    with Server() as server:
        # The job to purge, filled through the API as a training script fills it.
        _, big = server.post("/api/jobs", {"name": "bench purge victim", "model": "m"})
        filler = Poster(server, big["uid"])
        fill_started = time.perf_counter()
        for _ in range(max(1, args.points // FILL_BATCH)):
            filler.post(FILL_BATCH)
        fill_seconds = time.perf_counter() - fill_started
        server.manage("shell", "-c", TRASH_SCRIPT.format(uid=big["uid"]))

        _, target = server.post("/api/jobs", {"name": "bench purge ingest", "model": "m"})
        poster = Poster(server, target["uid"])
        poster.post(args.batch)  # warm: the job's first batch creates its keys

        base_points, base_seconds, base_latencies = ingest(
            poster, duration=args.duration, batch=args.batch
        )
        base_rate = base_points / base_seconds

        purge = subprocess.Popen(
            [
                PYTHON,
                "manage.py",
                "purge_trash",
                "--batch-size",
                str(args.purge_batch),
                "--duty",
                str(args.duty),
            ],
            cwd=ROOT,
            env=server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Measured from its first line on: Django's start-up is not the purge.
        purge.stdout.readline()
        purge_started = time.perf_counter()
        during_points, during_seconds, during_latencies = ingest(
            poster,
            duration=args.duration,
            batch=args.batch,
            until=lambda: purge.poll() is not None,
        )
        out, err = purge.communicate(timeout=3600)
        purge_seconds = time.perf_counter() - purge_started
        if purge.returncode:
            raise RuntimeError(f"purge_trash failed:\n{err}")
        during_rate = during_points / during_seconds if during_seconds else 0.0
        left = server.manage("shell", "-c", EXISTS_SCRIPT.format(uid=big["uid"])).split()[-1]

    ratio = during_rate / base_rate if base_rate else 0.0
    result = {
        "id": "B1p",
        "name": "ingest during a purge",
        "machine": machine(),
        "purged_points": args.points,
        "fill_seconds": round(fill_seconds, 2),
        "purge_seconds": round(purge_seconds, 2),
        "purge_output": out.strip(),
        "purge_batch_rows": args.purge_batch,
        "purge_duty": args.duty,
        "baseline": {
            "points": base_points,
            "seconds": round(base_seconds, 2),
            "points_per_second": round(base_rate),
            "batch": summary_ms(base_latencies),
        },
        "during_purge": {
            "points": during_points,
            "seconds": round(during_seconds, 2),
            "points_per_second": round(during_rate),
            "batch": summary_ms(during_latencies) if during_latencies else None,
            "purge_finished_first": during_seconds < args.duration,
        },
        "purged_job_gone": left == "False",
        "checks": [
            check(
                f"B1 during the purge of a {args.points:,}-point job vs without",
                f"{during_rate:,.0f} vs {base_rate:,.0f} points/s ({ratio:.0%})",
                "≥ 80 %",
                ratio >= 0.8,
            )
        ],
    }
    if not args.dry_run:
        write_result("b1_purge", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
