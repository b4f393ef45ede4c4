"""B8's reading of what happened: server errors from the logs, CPU and memory of each
process, and the checks and result file of each configuration (bench_distributed.py)."""

import contextlib
import json
import os

# The load bench_distributed.py generates, named in the report.
RUNS = 40
CLIENT_PROCESSES = 4
KEYS = 20
STEPS_PER_SECOND = 20
VIEWERS = 100


def server_errors(logs):
    """Tracebacks in the daphne logs, and how often each kind of exception ended one."""
    kinds, tracebacks = {}, 0
    for text in logs:
        lines = text.splitlines()
        for n, line in enumerate(lines):
            if line.startswith("Traceback"):
                tracebacks += 1
                end = next((x for x in lines[n + 1 :] if x and not x[0].isspace()), "?")
                kinds[end[:160]] = kinds.get(end[:160], 0) + 1
    top = sorted(kinds.items(), key=lambda item: -item[1])[:8]
    return {"tracebacks": tracebacks, "kinds": dict(top)}


def cpu_seconds(pid):
    import psutil

    with contextlib.suppress(psutil.Error):
        times = psutil.Process(pid).cpu_times()
        return round(times.user + times.system, 1)
    return None


def rss_summary(samples, workers, load_seconds):
    out = []
    for w in range(workers):
        series = [(row[0], row[1 + w]) for row in samples if len(row) > 1 + w]
        during = [rss for t, rss in series if t <= load_seconds] or [rss for _, rss in series]
        half = during[len(during) // 2 :]
        out.append(
            {
                "start_mb": round(during[0] / 2**20, 1),
                "end_mb": round(during[-1] / 2**20, 1),
                "max_mb": round(max(during) / 2**20, 1),
                "second_half_growth_mb": round((half[-1] - half[0]) / 2**20, 1),
                "samples": len(during),
            }
        )
    return out


def checks_for(label, r):
    from harness import check

    rollups = r["rollups"]
    latency = r["push_latency"] or {"p95_ms": float("inf"), "n": 0}
    rss_growth = max(w["second_half_growth_mb"] for w in r["rss"])
    errors = r.get("server_errors") or {"tracebacks": 0, "kinds": {}}
    causes = ""
    if errors["tracebacks"]:
        named = {}
        for kind, count in errors["kinds"].items():
            if kind.startswith("django.db.utils"):  # the same error, re-raised by Django
                continue
            short = kind.split(": ")[-1].strip()
            named[short] = named.get(short, 0) + count
        causes = "; server errors: " + ", ".join(f"{k} ×{n}" for k, n in named.items())
    return [
        check(
            f"B8 points stored = points sent, lines stored = lines sent ({label})",
            f"{r['points_stored']:,} / {r['points_sent']:,} points, "
            f"{r['lines_stored']:,} / {r['lines_sent']:,} lines{causes}",
            "equal",
            r["points_stored"] == r["points_sent"] and r["lines_stored"] == r["lines_sent"],
        ),
        check(
            f"B8 rollups disagreeing with a recount of their points ({label})",
            f"{rollups['rollups_disagreeing'] + rollups['rollups_missing']} of "
            f"{rollups['rollups_checked']:,}",
            "0",
            rollups["rollups_disagreeing"] == 0
            and rollups["rollups_missing"] == 0
            and rollups["rollups_without_points"] == 0,
        ),
        check(
            f"B8 push latency POST→WebSocket, p95 of {latency['n']:,} ({label})",
            f"{latency['p95_ms']} ms",
            "≤ 250 ms",
            latency["p95_ms"] <= 250,
        ),
        check(
            f"B8 points missed by the {r['viewers']} WebSocket viewers ({label})",
            f"{r['points_missed_by_viewers']:,}",
            "0",
            r["points_missed_by_viewers"] == 0,
        ),
        check(
            f"B8 daphne RSS start / end / max, growth over the second half ({label})",
            "; ".join(
                f"{w['start_mb']} / {w['end_mb']} / {w['max_mb']} MB, "
                f"{w['second_half_growth_mb']:+} MB"
                for w in r["rss"]
            ),
            "flat: ≤ 20 MB growth",
            rss_growth <= 20,
        ),
    ]


LABELS = {
    "distributed": "PostgreSQL + Redis, 2 workers",
    "sqlite": "SQLite, 1 process",
}


def report(configs):
    """Write b8_distributed.json with `configs`, keeping a configuration measured by an
    earlier run (`--only`) that this run did not measure."""
    from harness import RESULTS, machine, write_result

    previous = RESULTS / "b8_distributed.json"
    if previous.exists():
        earlier = json.loads(previous.read_text()).get("configurations", {})
        configs = {**{k: v for k, v in earlier.items() if k in LABELS}, **configs}
    configs = {name: configs[name] for name in LABELS if name in configs}
    checks = [c for name, r in configs.items() for c in checks_for(LABELS[name], r)]
    result = {
        "id": "B8",
        "name": "distributed configuration",
        "machine": machine({}),
        "load": {
            "client": "tuneboard (client/), tuneboard.init + Run.log/log_text/finish",
            "runs": RUNS,
            "client_processes": CLIENT_PROCESSES,
            "keys": KEYS,
            "steps_per_second": STEPS_PER_SECOND,
            "log_lines_per_step": 1,
            "viewers": f"{VIEWERS} WebSocket clients (websockets library), not browsers",
            "proxy": "asyncio TCP proxy on loopback, round robin per connection",
        },
        "note": "the load generators (client processes, viewers, proxy) share the machine's "
        "cores with the servers and databases; the load average says what else ran",
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "configurations": configs,
        "checks": checks,
    }
    write_result("b8_distributed", result)
    summary = {k: v for k, v in result.items() if k != "configurations"}
    summary["configurations"] = {
        name: {k: v for k, v in r.items() if k != "rss_samples"} for name, r in configs.items()
    }
    print(json.dumps(summary, indent=2))
