"""B5 — dashboard: 1 000 jobs with 20 metric keys each; `/` and `/api/jobs`.

Targets: p95 ≤ 150 ms for `/` and ≤ 300 ms for `/api/jobs` (40 sequential requests
each, after 3 warm-up requests, over one kept-alive connection); the number of SQL
queries of each does not depend on the number of jobs. Queries are counted (Django's
test client in `manage.py shell`, the second of two requests) at 1 job, at exactly one
full page of each (48 cards on `/`, 50 on `/api/jobs`) and at 1 000 jobs (many pages):
a query per card would show as 1 against 48 or 50.
"""

import http.client
import json
import subprocess

from harness import PYTHON, ROOT, Server, check, machine, timed, write_result

COUNT_QUERIES = """
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.db import connection
from django.contrib.auth import get_user_model
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(get_user_model().objects.get(username="bench"))
counts = {}
for path in ("/", "/api/jobs"):
    client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    counts[path] = len(ctx.captured_queries)
print(counts)
"""


def add_jobs(server, conn, first, last):
    for n in range(first, last):
        body = {
            "name": f"bench-job-{n}",
            "model": f"model-{n % 7}",
            "dataset": f"ds-{n % 5}",
            "tags": ["bench", f"group-{n % 4}"],
            "total_steps": 1000,
        }
        conn.request("POST", "/api/jobs", body=json.dumps(body), headers=server.headers)
        response = conn.getresponse()
        uid = json.loads(response.read())["uid"]
        points = [
            {"key": f"metric/{k}" if k else "train/loss", "step": s, "value": 1 / (1 + s)}
            for k in range(20)
            for s in range(0, 50, 10)
        ]
        conn.request(
            "POST",
            f"/api/jobs/{uid}/metrics",
            body=json.dumps({"points": points}),
            headers=server.headers,
        )
        conn.getresponse().read()
        if n % 3 == 0:
            conn.request(
                "POST",
                f"/api/jobs/{uid}/status",
                body=json.dumps({"status": "running", "step": 40}),
                headers=server.headers,
            )
            conn.getresponse().read()


def query_counts(server):
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", COUNT_QUERIES],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return eval(out.strip().splitlines()[-1])


# Job counts at which queries are counted: one job, one full page of the dashboard
# (DASHBOARD_PAGE_SIZE), one full page of /api/jobs (its default page_size), many pages.
COUNT_AT = (1, 48, 50, 1000)


def main():
    with Server() as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        counts, jobs = {}, 0
        for n in COUNT_AT:
            add_jobs(server, conn, jobs, n)
            jobs = n
            counts[n] = query_counts(server)
        page = timed(server, conn, "/", cookie=True, n=40)
        api = timed(server, conn, "/api/jobs", cookie=False, n=40)
        per_path = {path: [counts[n][path] for n in COUNT_AT] for path in counts[1]}
        constant = all(len(set(values)) == 1 for values in per_path.values())
        shown = "; ".join(
            f"`{path}` " + " / ".join(str(v) for v in values) for path, values in per_path.items()
        )
        result = {
            "id": "B5",
            "name": "dashboard",
            "machine": machine(),
            "jobs": 1000,
            "keys_per_job": 20,
            "dashboard_page": page,
            "api_jobs": api,
            "queries_by_job_count": {str(n): counts[n] for n in COUNT_AT},
            "checks": [
                check(
                    "B5 `/` with 1 000 jobs, p95",
                    f"{page['p95_ms']} ms",
                    "≤ 150 ms",
                    page["p95_ms"] <= 150,
                ),
                check(
                    "B5 `/api/jobs` with 1 000 jobs, p95",
                    f"{api['p95_ms']} ms",
                    "≤ 300 ms",
                    api["p95_ms"] <= 300,
                ),
                check(
                    "B5 SQL queries per request at 1 / 48 / 50 / 1 000 jobs",
                    shown,
                    "equal at every count",
                    constant,
                ),
            ],
        }
        write_result("b5_dashboard", result)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
