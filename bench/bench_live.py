"""B4 — live latency: 100 WebSocket viewers on one job, one batch posted every 100 ms.

Target: p95 from POST to receipt ≤ 250 ms; no viewer misses a point.
"""

import asyncio
import http.client
import json
import threading
import time

from harness import Server, check, machine, summary_ms, write_result
from websockets.asyncio.client import connect

VIEWERS = 100
BATCHES = 150
INTERVAL = 0.1
POINTS_PER_BATCH = 10


async def viewer(url, headers, received, ready):
    async with connect(url, additional_headers=headers, max_size=2**24) as socket:
        ready.release()
        seen = {}
        received.append(seen)
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
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    next_at = time.perf_counter()
    for batch in range(BATCHES):
        steps = range(batch * POINTS_PER_BATCH, (batch + 1) * POINTS_PER_BATCH)
        body = json.dumps(
            {"points": [{"key": "live/loss", "step": s, "value": 1 / (1 + s)} for s in steps]}
        )
        start = time.perf_counter()
        conn.request("POST", f"/api/jobs/{uid}/metrics", body=body, headers=server.headers)
        response = conn.getresponse()
        response.read()
        for step in steps:
            sent[step] = start
        next_at += INTERVAL
        time.sleep(max(0.0, next_at - time.perf_counter()))


async def run(server, uid):
    url = f"ws://127.0.0.1:{server.port}/ws/jobs/{uid}/"
    headers = {"Cookie": f"sessionid={server.session}", "Origin": server.url}
    received, sent = [], {}
    ready = asyncio.Semaphore(0)
    tasks = [asyncio.create_task(viewer(url, headers, received, ready)) for _ in range(VIEWERS)]
    for _ in range(VIEWERS):
        await ready.acquire()
    thread = threading.Thread(target=poster, args=(server, uid, sent))
    thread.start()
    await asyncio.to_thread(thread.join)
    await asyncio.wait(tasks, timeout=10)
    for task in tasks:
        task.cancel()
    return received, sent


def main():
    with Server() as server:
        _, job = server.post("/api/jobs", {"name": "bench live", "model": "m", "dataset": "d"})
        received, sent = asyncio.run(run(server, job["uid"]))
        latencies, missed = [], 0
        for seen in received:
            for step, start in sent.items():
                if step in seen:
                    latencies.append(seen[step] - start)
                else:
                    missed += 1
        stats = summary_ms(latencies)
        result = {
            "id": "B4",
            "name": "live latency",
            "machine": machine(),
            "viewers": len(received),
            "batches": BATCHES,
            "points_per_batch": POINTS_PER_BATCH,
            "latency": stats,
            "missed_points": missed,
            "checks": [
                check(
                    f"B4 POST→WebSocket latency, {VIEWERS} viewers, p95",
                    f"{stats['p95_ms']} ms",
                    "≤ 250 ms",
                    stats["p95_ms"] <= 250,
                ),
                check(
                    "B4 points missed by any viewer",
                    str(missed),
                    "0",
                    missed == 0 and len(received) == VIEWERS,
                ),
            ],
        }
        write_result("b4_live", result)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
