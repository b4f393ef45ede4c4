"""B11 — the report of a 2-million-point job: its size and the time to build it.

Two jobs of 2,000,000 points each, seeded through the metrics API in 10,000-point
batches: one of 20 keys × 100,000 steps (long series), one of 1,000 keys × 2,000 steps
(many keys: the chart cap and the point budget per key). For each, the HTML report
(`GET /api/jobs/{uid}/report`) is read a few times, timed and weighed, and opened in
headless Chromium from disk with every request refused, counting the charts drawn; the
long-series job is also printed to PDF.

Target: the HTML report of a 2-million-point job ≤ 1 MB.
"""

import http.client
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

from harness import Server, check, machine, summary_ms, write_result
from playwright.sync_api import sync_playwright

BATCH = 10_000
READS = 3
LIMIT_BYTES = 1_000_000
JOBS = {
    "long": {"keys": [f"train/k{n:02d}" for n in range(19)] + ["train/loss"], "steps": 100_000},
    "wide": {
        "keys": ["train/loss", "val/loss"] + [f"layer{n // 100}/m{n:03d}" for n in range(998)],
        "steps": 2_000,
    },
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def seed(server, name, keys, steps):
    _, job = server.post("/api/jobs", {"name": f"bench report {name}", "model": "bench-model"})
    uid = job["uid"]
    server.post(f"/api/jobs/{uid}/status", {"status": "running", "step": 0})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    batch = []

    def flush():
        conn.request(
            "POST",
            f"/api/jobs/{uid}/metrics",
            body=json.dumps({"points": batch}),
            headers=server.headers,
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        batch.clear()

    per_step = max(1, BATCH // len(keys))
    for start in range(0, steps, per_step):
        for key_index, key in enumerate(keys):
            for step in range(start, min(steps, start + per_step)):
                value = 2.0 / (1 + step / 1000) + 0.05 * ((step * 7919 + key_index) % 100) / 100
                batch.append({"key": key, "step": step, "value": value})
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return uid, len(keys) * steps


def read_report(server, uid, fmt="html"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    started = time.perf_counter()
    conn.request("GET", f"/api/jobs/{uid}/report?format={fmt}", headers=server.headers)
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, (response.status, body[:300])
    return time.perf_counter() - started, body


def charts_drawn_offline(browser, html):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        path.write_bytes(html)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        requests = []
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url == path.as_uri() else route.abort()
            ),
        )
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        started = time.perf_counter()
        page.goto(path.as_uri())
        drawn = page.evaluate("Number(document.documentElement.dataset.chartsDrawn)")
        seconds = time.perf_counter() - started
        context.close()
    return drawn, seconds, len(requests) - 1


def main():
    results = {}
    with Server() as server:
        for name, spec in JOBS.items():
            started = time.perf_counter()
            uid, points = seed(server, name, spec["keys"], spec["steps"])
            seeded = time.perf_counter() - started
            times, body = [], b""
            for _ in range(READS):
                seconds, body = read_report(server, uid)
                times.append(seconds)
            html = body.decode()
            data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
            embedded = sum(len(line["x"]) for c in data["charts"] for line in c["series"])
            results[name] = {
                "uid": uid,
                "keys": len(spec["keys"]),
                "points": points,
                "seed_s": round(seeded, 1),
                "html_bytes": len(body),
                "charts": len(data["charts"]),
                "embedded_points": embedded,
                "build_ms": summary_ms(times),
            }
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for result in results.values():
                _, body = read_report(server, result["uid"])
                drawn, seconds, requests = charts_drawn_offline(browser, body)
                result.update(
                    charts_drawn=drawn, open_ms=round(seconds * 1000), requests_attempted=requests
                )
            browser.close()
        seconds, pdf = read_report(server, results["long"]["uid"], fmt="pdf")
        with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
            handle.write(pdf)
            handle.flush()
            info = subprocess.run(
                ["pdfinfo", handle.name], capture_output=True, text=True, check=True
            ).stdout
        results["long"]["pdf"] = {
            "bytes": len(pdf),
            "ms": round(seconds * 1000),
            "pages": int(re.search(r"Pages:\s+(\d+)", info).group(1)),
        }
    checks = []
    for result in results.values():
        what = f"{result['keys']:,} keys × {result['points'] // result['keys']:,} steps"
        checks.append(
            check(
                f"B11 HTML report of a 2 M-point job ({what}): size",
                f"{result['html_bytes'] / 1e6:.2f} MB ({result['charts']} charts, "
                f"{result['embedded_points']:,} points embedded; built in "
                f"{result['build_ms']['p50_ms']:.0f} ms median)",
                "≤ 1 MB",
                result["html_bytes"] <= LIMIT_BYTES,
            )
        )
        checks.append(
            check(
                f"B11 the same report opened offline in Chromium ({what})",
                f"{result['charts_drawn']}/{result['charts']} charts drawn in "
                f"{result['open_ms']} ms, {result['requests_attempted']} requests",
                "every chart, 0 requests",
                result["charts_drawn"] == result["charts"] and result["requests_attempted"] == 0,
            )
        )
    write_result(
        "b11_report",
        {
            "id": "B11",
            "name": "report of a 2-million-point job",
            "machine": machine(),
            "jobs": results,
            "checks": checks,
        },
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
