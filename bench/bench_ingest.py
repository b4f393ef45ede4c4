"""B1 — ingest: one client posting 10 000-point batches for 30 s to one job.

Targets: ≥ 50 000 points/s sustained; a 1 000-point batch answers in p95 ≤ 50 ms.
"""

import http.client
import json
import time

from harness import Server, check, machine, summary_ms, write_result

KEYS = [f"metric/{i}" for i in range(10)]


def batch_body(start_step, n_points):
    """`n_points` points spread over the ten keys, steps from `start_step` on."""
    per_key = n_points // len(KEYS)
    points = [
        {"key": key, "step": start_step + i, "value": 1.0 / (1 + start_step + i)}
        for key in KEYS
        for i in range(per_key)
    ]
    return json.dumps({"points": points}).encode(), start_step + per_key


def main(duration=30.0):
    with Server() as server:
        _, job = server.post("/api/jobs", {"name": "bench ingest", "model": "m", "dataset": "d"})
        path = f"/api/jobs/{job['uid']}/metrics"
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        headers = server.headers

        def post(body):
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status

        step, posted, latencies = 0, 0, []
        started = time.perf_counter()
        while time.perf_counter() - started < duration:
            body, step = batch_body(step, 10_000)
            t0 = time.perf_counter()
            post(body)
            latencies.append(time.perf_counter() - t0)
            posted += 10_000
        elapsed = time.perf_counter() - started
        rate = posted / elapsed

        small = []
        for _ in range(200):
            body, step = batch_body(step, 1_000)
            t0 = time.perf_counter()
            post(body)
            small.append(time.perf_counter() - t0)
        stored = server.get(f"/api/jobs/{job['uid']}")[1]
        small_stats = summary_ms(small)
        result = {
            "id": "B1",
            "name": "ingest",
            "machine": machine(),
            "points_posted": posted,
            "seconds": round(elapsed, 2),
            "points_per_second": round(rate),
            "batch_10k": summary_ms(latencies),
            "batch_1k": small_stats,
            "latest_step": stored["latest_metrics"][KEYS[0]]["step"]
            if "latest_metrics" in stored
            else None,
            "checks": [
                check(
                    "B1 sustained ingest (10k-point batches, 30 s)",
                    f"{rate:,.0f} points/s",
                    "≥ 50,000 points/s",
                    rate >= 50_000,
                ),
                check(
                    "B1 1k-point batch latency p95",
                    f"{small_stats['p95_ms']} ms",
                    "≤ 50 ms",
                    small_stats["p95_ms"] <= 50,
                ),
            ],
        }
        write_result("b1_ingest", result)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
