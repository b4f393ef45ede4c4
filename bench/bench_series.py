"""B2 — series read and B3 — server memory, on a job of 10 keys × 200 000 steps.

B2: `/api/jobs/{uid}/metrics?max_points=2000` for all keys, warm: p95 ≤ 100 ms, and the
global minimum and maximum of every series present in the answer.
B3: the server's RSS while B2 runs and while the 2 M points are exported as CSV grows by
≤ 50 MB over idle.
"""

import http.client
import json
import random
import threading
import time

import psutil
from harness import Server, check, machine, summary_ms, write_result

KEYS = [f"series/{i}" for i in range(10)]
STEPS = 200_000


def load(server, uid):
    """Post 2 M points in 10 000-point batches; returns each key's planted extremes."""
    rng = random.Random(5)
    extremes = {key: (rng.randrange(STEPS), rng.randrange(STEPS)) for key in KEYS}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    per_batch = 1000
    for start in range(0, STEPS, per_batch):
        points = []
        for key in KEYS:
            low, high = extremes[key]
            for step in range(start, start + per_batch):
                value = 1.0 + 0.5 * ((step * 7919) % 1000) / 1000
                if step == low:
                    value = -100.0
                elif step == high:
                    value = 500.0
                points.append({"key": key, "step": step, "value": value})
        conn.request(
            "POST",
            f"/api/jobs/{uid}/metrics",
            body=json.dumps({"points": points}),
            headers=server.headers,
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
    return extremes


class PeakRss(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.join()
        return self.peak


def measure_reads(server, conn, path, reads):
    """Latencies of `reads` series reads, the last answer and the peak RSS meanwhile."""

    def read():
        conn.request("GET", path, headers=server.headers)
        response = conn.getresponse()
        payload = response.read()
        assert response.status == 200, response.status
        return json.loads(payload)

    read()  # warm
    time.sleep(1)
    idle = psutil.Process(server.process.pid).memory_info().rss
    sampler = PeakRss(server.process.pid)
    sampler.start()
    latencies, answer = [], None
    for _ in range(reads):
        t = time.perf_counter()
        answer = read()
        latencies.append(time.perf_counter() - t)
    return latencies, answer, idle, sampler.stop()


def measure_export(server, conn, uid):
    """Rows and seconds of a whole-job CSV export, and the peak RSS meanwhile."""
    sampler = PeakRss(server.process.pid)
    sampler.start()
    t = time.perf_counter()
    conn.request("GET", f"/api/jobs/{uid}/export?format=csv", headers=server.headers)
    response = conn.getresponse()
    exported = 0
    while chunk := response.read(1 << 16):
        exported += chunk.count(b"\n")
    return exported - 1, time.perf_counter() - t, sampler.stop()


def series_checks(stats, present, growth_read, growth_export):
    return [
        check(
            "B2 /metrics?max_points=2000, 10 keys × 200k steps, p95",
            f"{stats['p95_ms']} ms",
            "≤ 100 ms",
            stats["p95_ms"] <= 100,
        ),
        check(
            "B2 global min/max of each series in the answer",
            "present" if present else "MISSING",
            "present",
            present,
        ),
        check(
            "B3 RSS growth while reading",
            f"{growth_read:.1f} MB",
            "≤ 50 MB",
            growth_read <= 50,
        ),
        check(
            "B3 RSS growth while exporting 2 M points as CSV",
            f"{growth_export:.1f} MB",
            "≤ 50 MB",
            growth_export <= 50,
        ),
    ]


def main(reads=40):
    with Server() as server:
        _, job = server.post("/api/jobs", {"name": "bench series", "model": "m", "dataset": "d"})
        uid = job["uid"]
        t0 = time.perf_counter()
        extremes = load(server, uid)
        load_seconds = time.perf_counter() - t0
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        path = f"/api/jobs/{uid}/metrics?max_points=2000"
        latencies, answer, idle, peak_read = measure_reads(server, conn, path, reads)
        present = all(
            [extremes[key][0], -100.0] in [p[:2] for p in answer["series"][key]["points"]]
            and [extremes[key][1], 500.0] in [p[:2] for p in answer["series"][key]["points"]]
            for key in KEYS
        )
        sizes = [len(answer["series"][key]["points"]) for key in KEYS]
        exported, export_seconds, peak_export = measure_export(server, conn, uid)

        stats = summary_ms(latencies)
        mb = 1024 * 1024
        growth_read = (peak_read - idle) / mb
        growth_export = (peak_export - idle) / mb
        result = {
            "id": "B2/B3",
            "name": "series read and memory",
            "machine": machine(),
            "points": len(KEYS) * STEPS,
            "load_seconds": round(load_seconds, 1),
            "read": stats,
            "points_per_series": sizes,
            "extremes_present": present,
            "rss_idle_mb": round(idle / mb, 1),
            "rss_peak_read_mb": round(peak_read / mb, 1),
            "rss_peak_export_mb": round(peak_export / mb, 1),
            "export_rows": exported,
            "export_seconds": round(export_seconds, 1),
            "checks": series_checks(stats, present, growth_read, growth_export),
        }
        write_result("b2_b3_series", result)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
