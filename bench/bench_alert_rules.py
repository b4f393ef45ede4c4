"""B1 with alert rules: ingest on a real server with 100 active rules against one without.

Two daphne processes, each on its own fresh database, take the same ingest: B1's batches
(10 000 points over ten keys, then 1 000-point ones) posted over HTTP to one job. One
server has no alert rules; the other has 100 active rules, a realistic mix for one busy
installation: 40 thresholds and 10 NaN rules on the batch's own keys but scoped to
another job (found by key, dropped by scope, in memory), 20 personal and 10
project-shared thresholds on keys the batch lacks, 10 job-event rules and 9 stall rules;
plus one rule that does watch this job's key (a threshold that never holds). Rounds
alternate between the servers in ABBA order, so drift of a shared machine and the
growth of the jobs fall on both alike; the figure is the ratio of the medians of the
rounds' rates. Afterwards, in the rules server's database, the rule check of one 10k
batch is timed against the ingest of one in a single process (how much of the
difference is the rule check itself).

Target: ingest with 100 rules within 10 % of ingest without (points/s, and the 1k-point
batch p95).

    python bench/bench_alert_rules.py                  # full size (3 rounds of 10 s each)
    python bench/bench_alert_rules.py --rounds 2 --seconds 3 --small 20 --dry-run
"""

import argparse
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
from jobs.services.alert_firing import alert_rules_on_metrics
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
        body = {
            "name": f"other key {i}",
            "condition": {"type": "threshold", "key": f"eval/other_{i}", "op": "<", "value": 0},
        }
        if i >= 20:
            body.update(project="default", severity="critical")  # shared with the project
        bodies.append(body)
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


class Target:
    """One server with its bench job, fed B1's batches over one keep-alive connection."""

    def __init__(self, server, label):
        self.server, self.label = server, label
        _, self.job = server.post(
            "/api/jobs", {"name": "bench rules", "model": "m", "dataset": "d", "tags": ["bench"]}
        )
        _, self.other = server.post("/api/jobs", {"name": "another job", "model": "m"})
        self.path = f"/api/jobs/{self.job['uid']}/metrics"
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        self.step = 0
        self.rates, self.small = [], []

    def post(self, body):
        self.conn.request("POST", self.path, body=body, headers=self.server.headers)
        response = self.conn.getresponse()
        response.read()
        assert response.status == 200, response.status

    def measure(self, seconds, small_batches, keep=True):
        posted, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            body, self.step = batch_body(self.step, 10_000)
            self.post(body)
            posted += 10_000
        rate = posted / (time.perf_counter() - started)
        small = []
        for _ in range(small_batches):
            body, self.step = batch_body(self.step, 1_000)
            t0 = time.perf_counter()
            self.post(body)
            small.append(time.perf_counter() - t0)
        if keep:
            self.rates.append(rate)
            self.small += small


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--seconds", type=float, default=ROUND_SECONDS)
    parser.add_argument("--small", type=int, default=SMALL_BATCHES)
    parser.add_argument(
        "--dry-run", action="store_true", help="print the result, write no results file"
    )
    args = parser.parse_args(argv)

    with Server() as bare, Server() as ruled:
        none, rules = Target(bare, "none"), Target(ruled, "rules")
        for body in rule_bodies(rules.other["uid"]):
            status, _ = ruled.post("/api/alert-rules", body)
            assert status == 201
        _, listed = ruled.get("/api/alert-rules")
        assert len(listed) == 100, len(listed)
        for target in (none, rules):  # warm up: caches, the job's first rows
            target.measure(min(args.seconds, 3.0), 5, keep=False)
        for n in range(args.rounds):
            for target in (none, rules) if n % 2 == 0 else (rules, none):
                target.measure(args.seconds, args.small)
        _, fired = ruled.get("/api/alerts")
        assert fired["results"] == [], "no rule should have fired"
        # The same check, in one process: the time the rule check adds to a 10k batch.
        out = ruled.manage("shell", "-c", f"UID = {rules.job['uid']!r}\n" + DIRECT)
        direct = json.loads(out.strip().splitlines()[-1])
        share = direct["rule_check_10k_median_ms"] / direct["ingest_10k_median_ms"]

        rate_none = statistics.median(none.rates)
        rate_rules = statistics.median(rules.rates)
        ratio = rate_rules / rate_none
        p95_none = summary_ms(none.small)["p95_ms"]
        p95_rules = summary_ms(rules.small)["p95_ms"]
        result = {
            "id": "B1-rules",
            "name": "ingest with 100 active alert rules",
            "machine": machine(ruled.env),
            "what": (
                f"two daphne servers on fresh databases, one without rules and one with 100 "
                f"active rules (40 thresholds + 10 NaN rules on the batch's keys scoped to "
                f"another job, 20 personal + 10 project-shared thresholds on other keys, 10 "
                f"event, 9 stall, 1 threshold watching this job's key); {args.rounds} rounds "
                f"each in ABBA order of {args.seconds:g} s of 10k-point batches plus "
                f"{args.small} 1k-point batches, over HTTP to one job"
            ),
            "points_per_second": {
                "none": [round(r) for r in none.rates],
                "rules": [round(r) for r in rules.rates],
            },
            "median_points_per_second": {"none": round(rate_none), "rules": round(rate_rules)},
            "ratio": round(ratio, 3),
            "batch_1k": {"none": summary_ms(none.small), "rules": summary_ms(rules.small)},
            "direct": {
                "what": "in the rules server's database, one process: median of 200 rule "
                "checks of one 10k-point batch vs median of 20 ingests of such batches",
                "rule_check_10k_median_ms": round(direct["rule_check_10k_median_ms"], 3),
                "ingest_10k_median_ms": round(direct["ingest_10k_median_ms"], 2),
                "share_of_ingest": round(share, 4),
            },
            "checks": [
                check(
                    "B1 with 100 active alert rules (server): sustained ingest vs none",
                    f"{ratio:.1%} ({rate_rules:,.0f} vs {rate_none:,.0f} points/s)",
                    "≥ 90 %",
                    ratio >= 0.9,
                ),
                check(
                    "B1 with 100 active alert rules (server): 1k-point batch p95",
                    f"{p95_rules} ms (none: {p95_none} ms)",
                    "≤ 110 % of none",
                    p95_rules <= 1.1 * p95_none,
                ),
                check(
                    "B1 with 100 active alert rules: time the rule check adds to a 10k batch",
                    f"{direct['rule_check_10k_median_ms']:.2f} ms of "
                    f"{direct['ingest_10k_median_ms']:.1f} ms ({share:.1%})",
                    "≤ 10 %",
                    share <= 0.1,
                ),
            ],
        }
        if not args.dry_run:
            write_result("b1_rules", result)
        print(json.dumps(result, indent=2))
        return 0 if ratio >= 0.9 and share <= 0.1 else 1


if __name__ == "__main__":
    sys.exit(main())
