"""B8 — the distributed configuration under a team's load, beside the single process.

Distributed: PostgreSQL + Redis + 2 daphne workers behind one port. The port is a
small asyncio TCP proxy on loopback started by this benchmark (`proxy` below): it hands
each new TCP connection to the next worker in turn (round robin per connection, so a
client's kept-alive connection and each WebSocket stay on the worker they reached).

Load, the same in both configurations:
- 40 concurrent runs of the real `tuneboard` client (`tuneboard.init(server=...,
  token=..., uid=...)`; 4 processes of 10 threads), each logging 20 keys at 20 steps/s
  (`run.log`) and one log line per step (`run.log_text`), for `--duration` seconds
  (default 180), then `run.finish()`; the client batches and posts as it always does;
- 100 WebSocket viewers (the `websockets` library in one asyncio process, signed in
  with a session cookie; not browsers) on the 40 jobs' pages' socket (`/ws/jobs/<uid>/`),
  2 or 3 per job, connected through the proxy, so spread over both workers.

Checked:
- points stored = points sent and lines stored = lines sent (from the database after
  every run has finished and flushed);
- every MetricRollup row equals a recount of its points (count, first and last step,
  min and max value), and every bucket of points has its rollup row at each width;
- push latency: from the start of the client's POST that carried a step (recorded by
  wrapping the client's HTTP poster) to the arrival of that step's first key at each
  viewer of the job; p95 over every (viewer, step) pair; points missed by a viewer;
- server RSS of each daphne sampled every 2 s: start, end, max, and the growth over the
  second half of the run.

The single-process configuration (1 daphne, SQLite, in-memory channel layer, no proxy)
takes the same load, for `--sqlite-duration` seconds.
"""

import argparse
import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from distributed_report import (
    CLIENT_PROCESSES,
    KEYS,
    RUNS,
    STEPS_PER_SECOND,
    VIEWERS,
    cpu_seconds,
    report,
    rss_summary,
    server_errors,
)

RSS_EVERY = 2.0
LATENCY_KEY = "k00"
HERE = Path(__file__).resolve().parent

# Run in `manage.py shell -c` against the bench database: points and lines per job,
# and every rollup against a recount of its points (one GROUP BY per width).
VERIFY = """
import json
from django.db import connection
from jobs.models import Job, LogEntry, MetricPoint, MetricRollup
from jobs.rollups import WIDTHS
from django.db.models import Count
jobs = dict(Job.objects.values_list("id", "uid"))
points = {jobs[r["job"]]: r["n"] for r in
          MetricPoint.objects.values("job").annotate(n=Count("id")).order_by()}
lines = {jobs[r["job"]]: r["n"] for r in
         LogEntry.objects.values("job").annotate(n=Count("id")).order_by()}
point_table = connection.ops.quote_name(MetricPoint._meta.db_table)
rollups = {}
for r in MetricRollup.objects.values_list(
        "job_id", "key", "width", "bucket", "count", "first_step", "last_step",
        "min_value", "max_value").iterator(chunk_size=10000):
    rollups[r[:4]] = r[4:]
bad, missing, checked = [], 0, 0
with connection.cursor() as cursor:
    for width in WIDTHS:
        cursor.execute(
            f"SELECT job_id, key, step / %s, COUNT(*), MIN(step), MAX(step), MIN(value), "
            f"MAX(value) FROM {point_table} GROUP BY job_id, key, step / %s",
            [width, width])
        for job_id, key, bucket, *recount in cursor.fetchall():
            row = rollups.pop((job_id, key, width, bucket), None)
            checked += 1
            if row is None:
                missing += 1
            elif tuple(row) != tuple(recount):
                bad.append([jobs[job_id], key, width, bucket, list(row), recount])
print(json.dumps({"points": points, "lines": lines, "rollups_checked": checked,
                  "rollups_disagreeing": len(bad), "rollups_missing": missing,
                  "rollups_without_points": len(rollups), "examples": bad[:5]}))
"""


# --- the proxy: one port, round robin over the workers ------------------------------


async def proxy_main(listen, upstreams, stats_path):
    counts = {"connections": [0] * len(upstreams), "websockets": [0] * len(upstreams)}
    turn = 0

    async def pipe(reader, writer):
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

    async def handle(reader, writer):
        nonlocal turn
        index = turn % len(upstreams)
        turn += 1
        counts["connections"][index] += 1
        try:
            first = await reader.read(65536)
            if first.startswith(b"GET /ws/"):
                counts["websockets"][index] += 1
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstreams[index])
        except OSError:
            writer.close()
            return
        up_writer.write(first)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        for w in (writer, up_writer):
            with contextlib.suppress(Exception):
                w.close()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=1024)
    async with server:
        await stop.wait()
    Path(stats_path).write_text(json.dumps(counts))


# --- the clients: real tuneboard runs in threads ------------------------------------


def clients_main(server, token, uids, start_at, duration, out):
    import tuneboard
    from tuneboard import poster

    post_start = {uid: {} for uid in uids}  # uid -> {step: start of the POST that carried it}
    original = poster.HttpPoster.post_json

    def timed_post_json(self, path, body):
        started = time.monotonic()
        answer = original(self, path, body)
        if path.endswith("/metrics"):
            uid = path.split("/")[3]
            steps = post_start[uid]
            for point in json.loads(body)["points"]:
                if point["key"] == LATENCY_KEY:
                    steps[point["step"]] = started
        return answer

    poster.HttpPoster.post_json = timed_post_json
    sent = {}
    keys = [f"k{k:02d}" for k in range(KEYS)]

    def one_run(uid):
        run = tuneboard.init(server=server, token=token, uid=uid, name=uid, model="m")
        step = 0
        next_at = start_at
        time.sleep(max(0.0, start_at - time.monotonic()))
        while time.monotonic() < start_at + duration:
            run.log({key: (step % 97) / (1 + k) for k, key in enumerate(keys)}, step=step)
            run.log_text(f"step {step}: loss {(step % 97) / 97:.4f}")
            step += 1
            next_at += 1 / STEPS_PER_SECOND
            time.sleep(max(0.0, next_at - time.monotonic()))
        delivered = run.finish(timeout=120)
        sent[uid] = {"steps": step, "points": step * KEYS, "lines": step, "delivered": delivered}

    threads = [threading.Thread(target=one_run, args=(uid,)) for uid in uids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    Path(out).write_text(json.dumps({"sent": sent, "post_start": post_start}))


# --- the viewers: WebSocket clients ------------------------------------------------


async def viewers_main(base, session, uids, count, max_steps, out):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    headers = {"Cookie": f"sessionid={session}", "Origin": base.replace("ws://", "http://")}
    viewers = []

    async def viewer(uid, record, ready):
        first = record["first"]
        seen = record["seen"]  # key -> bytearray of steps received
        while not stop.is_set():
            try:
                async with connect(
                    f"{base}/ws/jobs/{uid}/", additional_headers=headers, max_size=2**24
                ) as socket:
                    if ready is not None:
                        ready.release()
                        ready = None
                    async for message in socket:
                        now = time.monotonic()
                        data = json.loads(message)
                        if data.get("type") != "metrics":
                            continue
                        for key, points in data["series"].items():
                            marks = seen.setdefault(key, bytearray(max_steps))
                            for step, *_ in points:
                                if step < max_steps:
                                    marks[step] = 1
                                if key == LATENCY_KEY:
                                    first.setdefault(step, now)
            except (ConnectionClosed, OSError) as exc:
                record["closes"].append(str(exc)[:200])
                await asyncio.sleep(0.5)

    ready = asyncio.Semaphore(0)
    tasks = []
    for n in range(count):
        record = {"uid": uids[n % len(uids)], "first": {}, "seen": {}, "closes": []}
        viewers.append(record)
        tasks.append(asyncio.create_task(viewer(record["uid"], record, ready)))
        await ready.acquire()  # one at a time: the proxy's round robin alternates them
    Path(out + ".ready").write_text("ready")
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    Path(out).write_text(
        json.dumps(
            [
                {
                    "uid": v["uid"],
                    "first": v["first"],
                    "received": {key: sum(marks) for key, marks in v["seen"].items()},
                    "closes": v["closes"],
                }
                for v in viewers
            ]
        )
    )


# --- the benchmark -------------------------------------------------------------------


def spawn(*args, log):
    return subprocess.Popen(
        [sys.executable, str(HERE / "bench_distributed.py"), *args],
        cwd=HERE,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_for_file(path, process, seconds):
    deadline = time.monotonic() + seconds
    while not Path(path).exists():
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[2]} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} not written within {seconds}s")
        time.sleep(0.1)


def rss_sampler(pids, samples, stop):
    import psutil

    processes = [psutil.Process(pid) for pid in pids]
    started = time.monotonic()
    while not stop.is_set():
        row = [round(time.monotonic() - started, 1)]
        for process in processes:
            with contextlib.suppress(psutil.Error):
                row.append(process.memory_info().rss)
        samples.append(row)
        stop.wait(RSS_EVERY)


def run_config(name, env, workers, duration, runs, viewers, work):
    from harness import Server, machine, manage, summary_ms

    from tests.support.server import free_port

    uids = [f"b8-{name}-{n:02d}" for n in range(runs)]
    logs = open(work / f"{name}-processes.log", "w")  # noqa: SIM115 (closed below)
    with Server(env, workers=workers) as server:
        for uid in uids:  # the jobs exist before the viewers open their pages
            server.post("/api/jobs", {"uid": uid, "name": uid, "model": "m"})
        proxy = None
        if workers > 1:
            port = free_port()
            proxy = spawn(
                "proxy",
                str(port),
                *(str(w.port) for w in server.workers),
                "--stats",
                str(work / f"{name}-proxy.json"),
                log=logs,
            )
            base = f"127.0.0.1:{port}"
            deadline = time.monotonic() + 10
            while True:
                try:
                    urllib.request.urlopen(f"http://{base}/healthz", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        else:
            base = f"127.0.0.1:{server.port}"
        max_steps = int(duration * STEPS_PER_SECOND * 1.2) + 100
        viewers_out = work / f"{name}-viewers.json"
        viewer_process = spawn(
            "viewers",
            f"ws://{base}",
            server.session,
            str(viewers),
            str(max_steps),
            str(viewers_out),
            *uids,
            log=logs,
        )
        wait_for_file(str(viewers_out) + ".ready", viewer_process, 60)
        start_at = time.monotonic() + 5
        clients = []
        per_process = -(-runs // CLIENT_PROCESSES)
        for p in range(CLIENT_PROCESSES):
            chunk = uids[p * per_process : (p + 1) * per_process]
            if chunk:
                clients.append(
                    spawn(
                        "clients",
                        f"http://{base}",
                        server.token,
                        str(start_at),
                        str(duration),
                        str(work / f"{name}-clients-{p}.json"),
                        *chunk,
                        log=logs,
                    )
                )
        samples, stop = [], threading.Event()
        sampler = threading.Thread(
            target=rss_sampler,
            args=([w.process.pid for w in server.workers], samples, stop),
            daemon=True,
        )
        time.sleep(max(0.0, start_at - time.monotonic()))
        sampler.start()
        for client in clients:
            client.wait()
        load_seconds = time.monotonic() - start_at
        time.sleep(5)  # the last pushes reach the viewers
        stop.set()
        sampler.join()
        cpu = {"workers": [cpu_seconds(w.process.pid) for w in server.workers]}
        if proxy is not None:
            cpu["proxy"] = cpu_seconds(proxy.pid)
        cpu["viewers"] = cpu_seconds(viewer_process.pid)
        viewer_process.send_signal(signal.SIGTERM)
        viewer_process.wait(120)
        if proxy is not None:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(30)
        verify = json.loads(manage(server.env, "shell", "-c", VERIFY).strip().splitlines()[-1])
        errors = server_errors([w.log_text() for w in server.workers])
        config = machine(server.env)
    logs.close()

    sent, post_start = {}, {}
    for p in range(len(clients)):
        data = json.loads((work / f"{name}-clients-{p}.json").read_text())
        sent.update(data["sent"])
        post_start.update(data["post_start"])
    viewer_records = json.loads(viewers_out.read_text())
    points_sent = sum(s["points"] for s in sent.values())
    lines_sent = sum(s["lines"] for s in sent.values())
    points_stored = sum(verify["points"].get(uid, 0) for uid in uids)
    lines_stored = sum(verify["lines"].get(uid, 0) for uid in uids)
    latencies, missed, closes, reasons = [], 0, 0, {}
    for record in viewer_records:
        starts = post_start[record["uid"]]
        steps = sent[record["uid"]]["steps"]
        for step, at in record["first"].items():  # JSON keys: steps as strings
            if step in starts:
                latencies.append(at - starts[step])
        missed += sum(steps - record["received"].get(f"k{k:02d}", 0) for k in range(KEYS))
        closes += len(record["closes"])
        for reason in record["close_reasons"] if "close_reasons" in record else record["closes"]:
            reasons[reason] = reasons.get(reason, 0) + 1
    result = {
        "configuration": (
            f"{workers} daphne workers behind a round-robin TCP proxy, PostgreSQL + Redis"
            if workers > 1
            else "1 daphne, SQLite, in-memory channel layer (no proxy)"
        ),
        "database": config["database"],
        "channel_layer": config["channel_layer"],
        "workers": workers,
        "duration_s": duration,
        "load_s": round(load_seconds, 1),
        "runs": runs,
        "viewers": len(viewer_records),
        "points_sent": points_sent,
        "points_stored": points_stored,
        "lines_sent": lines_sent,
        "lines_stored": lines_stored,
        "points_per_second": round(points_sent / duration),
        "every_run_delivered": all(s["delivered"] for s in sent.values()),
        "rollups": {k: v for k, v in verify.items() if k.startswith("rollups") or k == "examples"},
        "push_latency": summary_ms(latencies) if latencies else None,
        "points_missed_by_viewers": missed,
        "viewer_reconnects": closes,
        "viewer_close_reasons": reasons,
        "cpu_seconds": cpu,
        "server_errors": errors,
        "rss": rss_summary(samples, workers, load_seconds),
        "rss_samples": samples,
    }
    if workers > 1:
        result["proxy"] = json.loads((work / f"{name}-proxy.json").read_text())
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode")
    p = sub.add_parser("proxy")
    p.add_argument("listen", type=int)
    p.add_argument("upstreams", type=int, nargs="+")
    p.add_argument("--stats", required=True)
    p = sub.add_parser("clients")
    p.add_argument("server")
    p.add_argument("token")
    p.add_argument("start_at", type=float)
    p.add_argument("duration", type=float)
    p.add_argument("out")
    p.add_argument("uids", nargs="+")
    p = sub.add_parser("viewers")
    p.add_argument("base")
    p.add_argument("session")
    p.add_argument("count", type=int)
    p.add_argument("max_steps", type=int)
    p.add_argument("out")
    p.add_argument("uids", nargs="+")
    parser.add_argument("--duration", type=float, default=180, help="seconds (default 180)")
    parser.add_argument(
        "--sqlite-duration", type=float, help="seconds of the SQLite run (default: --duration)"
    )
    parser.add_argument(
        "--only", choices=("distributed", "sqlite"), help="run one configuration only"
    )
    args = parser.parse_args()
    if args.mode == "proxy":
        asyncio.run(proxy_main(args.listen, args.upstreams, args.stats))
        return
    if args.mode == "clients":
        clients_main(args.server, args.token, args.uids, args.start_at, args.duration, args.out)
        return
    if args.mode == "viewers":
        asyncio.run(
            viewers_main(args.base, args.session, args.uids, args.count, args.max_steps, args.out)
        )
        return

    from harness import scratch_postgres_redis

    configs = {}
    with tempfile.TemporaryDirectory(prefix="tuneboard-b8-") as tmp:
        work = Path(tmp)
        if args.only in (None, "distributed"):
            with scratch_postgres_redis("b8") as env:
                # Each worker keeps at most 20 connections: the two stay well under
                # PostgreSQL's default max_connections of 100 whatever the burst.
                env = {**env, "TUNEBOARD_DB_POOL_SIZE": "20"}
                configs["distributed"] = run_config(
                    "distributed", env, 2, args.duration, RUNS, VIEWERS, work
                )
            report(configs)
        if args.only in (None, "sqlite"):
            configs["sqlite"] = run_config(
                "sqlite",
                {"DATABASE_URL": None, "REDIS_URL": None},
                1,
                args.sqlite_duration or args.duration,
                RUNS,
                VIEWERS,
                work,
            )
            report(configs)


if __name__ == "__main__":
    main()
