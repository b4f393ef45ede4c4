"""B1 with alert rules: the cost of checking 100 active rules on the ingest path.

One server, one job, B1's batches (10 000 points over ten keys, and 1 000-point ones).
Rounds alternate between no rules and 100 active rules, so drift of a shared machine
falls on both alike; the figure is the ratio of the medians of the rounds' rates.
The 100 rules are a realistic mix for one busy installation: 40 thresholds and 10 NaN
rules on the batch's own keys but scoped to another job (found by key, dropped by
scope, in memory), 30 thresholds on keys the batch lacks, 10 job-event rules and 10
stall rules; plus one rule that does watch this job's key (a threshold that never
holds), whose evaluation reads the points before the batch.

Target: ingest with 100 rules within 10 % of ingest without (points/s, and the 1k-point
batch p95).
"""

import http.client
import json
import statistics
import sys
import time

from bench_ingest import KEYS, batch_body
from harness import Server, check, machine, summary_ms, write_result

ROUNDS = 3
ROUND_SECONDS = 10.0
SMALL_BATCHES = 60

# Run in the server's database with the 100 rules active: the time the rule check adds to
# one 10k-point batch, against the time of the whole ingest of such a batch, in one
# process, so that the load of a shared machine weighs on both alike.
DIRECT = """
import json, time
from jobs.models import Job
from jobs.services import metrics_ingest
from jobs.services.alert_rules import alert_rules_on_metrics
job = Job.objects.get(uid=UID)
start = job.latest_metrics["metric/0"]["step"] + 1
def batch(first):
    return [{"key": f"metric/{k}", "step": first + i, "value": 1.0 / (1 + first + i)}
            for k in range(10) for i in range(1000)]
ingest = []
for n in range(20):
    points = batch(start + n * 1000)
    t0 = time.perf_counter(); metrics_ingest(job=job, points=points)
    ingest.append(time.perf_counter() - t0)
by_key = {}
for p in batch(start + 20 * 1000):
    by_key.setdefault(p["key"], []).append((p["step"], p["value"], None, None))
check = []
for n in range(200):
    t0 = time.perf_counter(); alert_rules_on_metrics(job=job, by_key=by_key)
    check.append(time.perf_counter() - t0)
ingest.sort(); check.sort()
print(json.dumps({"ingest_10k_median_ms": ingest[10] * 1000,
                  "rule_check_10k_median_ms": check[100] * 1000}))
"""


def rule_bodies(other_uid):
    bodies = []
    for i in range(40):
        bodies.append(
            {
                "name": f"scoped threshold {i}",
                "scope": {"job": other_uid},
                "condition": {"type": "threshold", "key": KEYS[i % 10], "op": ">", "value": 5},
            }
        )
    for i in range(10):
        bodies.append(
            {
                "name": f"scoped nan {i}",
                "scope": {"job": other_uid},
                "condition": {"type": "nan", "key": KEYS[i]},
            }
        )
    for i in range(30):
        bodies.append(
            {
                "name": f"other key {i}",
                "condition": {"type": "threshold", "key": f"eval/other_{i}", "op": "<", "value": 0},
            }
        )
    for i in range(10):
        bodies.append({"name": f"event {i}", "condition": {"type": "event", "events": ["failed"]}})
    for i in range(9):
        bodies.append({"name": f"stall {i}", "condition": {"type": "stall", "minutes": 10 + i}})
    bodies.append(
        {
            "name": "watching this job",
            "scope": {"tag": "bench"},
            "condition": {"type": "threshold", "key": KEYS[0], "op": ">", "value": 1e9},
        }
    )
    return bodies


def main():
    with Server() as server:
        _, job = server.post(
            "/api/jobs", {"name": "bench rules", "model": "m", "dataset": "d", "tags": ["bench"]}
        )
        _, other = server.post("/api/jobs", {"name": "another job", "model": "m", "dataset": "d"})
        path = f"/api/jobs/{job['uid']}/metrics"
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        step = 0

        def post(body):
            conn.request("POST", path, body=body, headers=server.headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status

        def measure():
            nonlocal step
            posted, started = 0, time.perf_counter()
            while time.perf_counter() - started < ROUND_SECONDS:
                body, step = batch_body(step, 10_000)
                post(body)
                posted += 10_000
            rate = posted / (time.perf_counter() - started)
            small = []
            for _ in range(SMALL_BATCHES):
                body, step = batch_body(step, 1_000)
                t0 = time.perf_counter()
                post(body)
                small.append(time.perf_counter() - t0)
            return rate, small

        def rules_set(on):
            _, rules = server.get("/api/alert-rules")
            for rule in rules:
                server.request("DELETE", f"/api/alert-rules/{rule['id']}")
            if on:
                for body in rule_bodies(other["uid"]):
                    status, _ = server.post("/api/alert-rules", body)
                    assert status == 201

        measure()  # warm up: caches, the job's first rows
        rounds = {"none": [], "rules": []}
        small = {"none": [], "rules": []}
        for _ in range(ROUNDS):
            for label in ("none", "rules"):
                rules_set(label == "rules")
                rate, latencies = measure()
                rounds[label].append(rate)
                small[label] += latencies
        _, fired = server.get("/api/alerts")
        assert fired["results"] == [], "no rule should have fired"
        # The rules are active (the last round had them): measure the check itself.
        out = server.manage("shell", "-c", f"UID = {job['uid']!r}\n" + DIRECT)
        direct = json.loads(out.strip().splitlines()[-1])
        share = direct["rule_check_10k_median_ms"] / direct["ingest_10k_median_ms"]

        rate_none = statistics.median(rounds["none"])
        rate_rules = statistics.median(rounds["rules"])
        ratio = rate_rules / rate_none
        p95_none = summary_ms(small["none"])["p95_ms"]
        p95_rules = summary_ms(small["rules"])["p95_ms"]
        result = {
            "id": "B1-rules",
            "name": "ingest with 100 active alert rules",
            "machine": machine(),
            "what": (
                f"{ROUNDS} alternating rounds of {ROUND_SECONDS:.0f} s of 10k-point batches "
                f"(plus {SMALL_BATCHES} 1k-point batches each) to one job, without rules and "
                "with 100 active rules (40 thresholds + 10 NaN rules on the batch's keys "
                "scoped to another job, 30 thresholds on other keys, 10 event, 9 stall, 1 "
                "threshold watching this job's key)"
            ),
            "points_per_second": {
                "none": [round(r) for r in rounds["none"]],
                "rules": [round(r) for r in rounds["rules"]],
            },
            "median_points_per_second": {"none": round(rate_none), "rules": round(rate_rules)},
            "ratio": round(ratio, 3),
            "batch_1k": {"none": summary_ms(small["none"]), "rules": summary_ms(small["rules"])},
            "direct": {
                "what": "in one process, median of 200 rule checks of one 10k-point batch vs "
                "median of 20 ingests of such batches, with the 100 rules active",
                "rule_check_10k_median_ms": round(direct["rule_check_10k_median_ms"], 3),
                "ingest_10k_median_ms": round(direct["ingest_10k_median_ms"], 2),
                "share_of_ingest": round(share, 4),
            },
            "checks": [
                check(
                    "B1 with 100 active alert rules: time the rule check adds to a 10k batch",
                    f"{direct['rule_check_10k_median_ms']:.2f} ms of "
                    f"{direct['ingest_10k_median_ms']:.1f} ms ({share:.1%})",
                    "≤ 10 %",
                    share <= 0.1,
                ),
                check(
                    "B1 with 100 active alert rules: sustained ingest vs none",
                    f"{ratio:.1%} ({rate_rules:,.0f} vs {rate_none:,.0f} points/s)",
                    "≥ 90 %",
                    ratio >= 0.9,
                ),
                check(
                    "B1 with 100 active alert rules: 1k-point batch p95",
                    f"{p95_rules} ms (none: {p95_none} ms)",
                    "≤ 110 % of none",
                    p95_rules <= 1.1 * p95_none,
                ),
            ],
        }
        write_result("b1_rules", result)
        print(json.dumps(result, indent=2))
        return 0 if ratio >= 0.9 and share <= 0.1 else 1


if __name__ == "__main__":
    sys.exit(main())
