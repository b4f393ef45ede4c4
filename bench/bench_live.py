"""B4 — live latency: 100 WebSocket clients on one job, one batch posted every 100 ms.

The viewers are WebSocket clients (the `websockets` library in one asyncio process,
signed in with a session cookie), not browsers: what is measured is the server's push
path, from the start of the POST of a batch to the arrival of each of its points at
each viewer (150 batches of 10 points: 1 500 points × 100 viewers = 150 000 samples).

Two configurations:
- one daphne on SQLite with the in-memory channel layer (a single process);
- two daphne servers on PostgreSQL + Redis, the viewers connected alternately to one
  and the other, the batches posted alternately to one and the other, so half of the
  pushes reach a viewer on the server that did not take the write (every push goes
  through Redis in this configuration).

Target, for each: p95 from POST to receipt ≤ 250 ms; no viewer misses a point.
"""

import argparse
import asyncio
import http.client
import json
import threading
import time

from harness import (
    Server,
    check,
    machine,
    scratch_postgres_redis,
    summary_ms,
    write_result,
)
from websockets.asyncio.client import connect

VIEWERS = 100
BATCHES = 150
INTERVAL = 0.1
POINTS_PER_BATCH = 10


async def viewer(url, headers, seen, ready):
    async with connect(url, additional_headers=headers, max_size=2**24) as socket:
        ready.release()
        async for message in socket:
            now = time.perf_counter()
            data = json.loads(message)
            if data.get("type") != "metrics":
                continue
            for step, *_ in data["series"].get("live/loss", []):
                seen.setdefault(step, now)
            if len(seen) >= BATCHES * POINTS_PER_BATCH:
                return


def poster(server, uid, sent):
    """Posts the batches, alternately to each worker; `sent[step]` = when its POST began."""
    conns = [
        http.client.HTTPConnection("127.0.0.1", worker.port, timeout=30)
        for worker in server.workers
    ]
    next_at = time.perf_counter()
    for batch in range(BATCHES):
        steps = range(batch * POINTS_PER_BATCH, (batch + 1) * POINTS_PER_BATCH)
        body = json.dumps(
            {"points": [{"key": "live/loss", "step": s, "value": 1 / (1 + s)} for s in steps]}
        )
        conn = conns[batch % len(conns)]
        start = time.perf_counter()
        conn.request("POST", f"/api/jobs/{uid}/metrics", body=body, headers=server.headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        for step in steps:
            sent[step] = start
        next_at += INTERVAL
        time.sleep(max(0.0, next_at - time.perf_counter()))


async def run(server, uid):
    """[(worker index, {step: received at})] per viewer, and {step: POST start}."""
    headers = {"Cookie": f"sessionid={server.session}", "Origin": server.url}
    viewers, sent = [], {}
    ready = asyncio.Semaphore(0)
    tasks = []
    for n in range(VIEWERS):
        index = n % len(server.workers)
        url = f"ws://127.0.0.1:{server.workers[index].port}/ws/jobs/{uid}/"
        seen = {}
        viewers.append((index, seen))
        tasks.append(asyncio.create_task(viewer(url, headers, seen, ready)))
    for _ in range(VIEWERS):
        await ready.acquire()
    thread = threading.Thread(target=poster, args=(server, uid, sent))
    thread.start()
    await asyncio.to_thread(thread.join)
    await asyncio.wait(tasks, timeout=10)
    for task in tasks:
        task.cancel()
    return viewers, sent


def measure(env, workers):
    with Server(env, workers=workers) as server:
        _, job = server.post("/api/jobs", {"name": "bench live", "model": "m", "dataset": "d"})
        viewers, sent = asyncio.run(run(server, job["uid"]))
        config = machine(server.env)
    latencies, by_worker, missed = [], {}, 0
    for index, seen in viewers:
        for step, start in sent.items():
            if step in seen:
                latencies.append(seen[step] - start)
                by_worker.setdefault(index, []).append(seen[step] - start)
            else:
                missed += 1
    return {
        "database": config["database"],
        "channel_layer": config["channel_layer"],
        "servers": workers,
        "viewers": len(viewers),
        "viewers_per_server": [sum(1 for i, _ in viewers if i == w) for w in range(workers)],
        "latency": summary_ms(latencies),
        "latency_by_viewer_server": [summary_ms(by_worker[w]) for w in sorted(by_worker)],
        "missed_points": missed,
    }


VARIANTS = {
    "sqlite": ("1 daphne, SQLite, in-memory layer", 1),
    "redis": ("2 daphnes, PostgreSQL + Redis", 2),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=sorted(VARIANTS), help="run one configuration")
    args = parser.parse_args()
    variants = {}
    for name, (_, workers) in VARIANTS.items():
        if args.only and name != args.only:
            continue
        if name == "redis":
            with scratch_postgres_redis("b4") as env:
                variants[name] = measure(env, workers)
        else:
            variants[name] = measure({"DATABASE_URL": None, "REDIS_URL": None}, workers)
    checks = []
    for name, result in variants.items():
        label, _ = VARIANTS[name]
        p95 = result["latency"]["p95_ms"]
        checks += [
            check(
                f"B4 POST→WebSocket latency, {VIEWERS} WebSocket clients, p95 of "
                f"{result['latency']['n']:,} ({label})",
                f"{p95} ms",
                "≤ 250 ms",
                p95 <= 250,
            ),
            check(
                f"B4 points missed by any WebSocket client ({label})",
                str(result["missed_points"]),
                "0",
                result["missed_points"] == 0 and result["viewers"] == VIEWERS,
            ),
        ]
    result = {
        "id": "B4",
        "name": "live latency",
        "machine": machine({}),
        "viewers": "WebSocket clients (websockets library, one asyncio process), not browsers",
        "batches": BATCHES,
        "points_per_batch": POINTS_PER_BATCH,
        "interval_s": INTERVAL,
        "variants": variants,
        "checks": checks,
    }
    write_result("b4_live", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
