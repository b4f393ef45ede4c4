"""A training loop for the fault test: logs 50 000 points while the server is killed.

    python fault_producer.py UID  (TUNEBOARD_SERVER / TUNEBOARD_TOKEN from the env)

Prints one JSON line: `run.log` latencies (ns) and the transport's counters. A small
in-memory bound makes the outages go through the spool files too.

A call during which the kernel preempted this thread (an involuntary context switch:
the thread was runnable, another process had the core) is counted apart: its wall time
measures the machine's load, not the client. Waiting for a lock or the GIL is a
voluntary switch and stays in the measured latencies.
"""

import json
import resource
import sys
import time

import tuneboard

KEYS = ("fault/a", "fault/b", "fault/c", "fault/d", "fault/e")
STEPS = 10_000  # x 5 keys = 50 000 points
# Where the loop asks the test to kill the server (a line on stdout) and waits for its
# "go" (a line on stdin): the kills land mid-run however slow the machine is.
KILL_AT = (3_000, 7_000)


def involuntary_switches():
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw


def main(uid):
    run = tuneboard.init(
        uid=uid, name="fault test", memory_limit=4_000, segment_size=1_000, backoff_max=0.5
    )
    run.stage("training")
    print("started", flush=True)
    latencies, preempted = [], []
    clock = time.perf_counter_ns
    for step in range(STEPS):
        metrics = {key: step * 0.001 + index for index, key in enumerate(KEYS)}
        switches = involuntary_switches()
        before = clock()
        run.log(metrics, step=step)
        elapsed = clock() - before
        (preempted if involuntary_switches() != switches else latencies).append(elapsed)
        if step % 50 == 49:
            time.sleep(0.03)  # "training": the logging goes on while the server is down
        if step in KILL_AT:
            print(f"kill at {step}", flush=True)
            sys.stdin.readline()
    delivered = run.finish(timeout=90)
    latencies.sort()
    print(
        json.dumps(
            {
                "delivered": delivered,
                "calls": len(latencies) + len(preempted),
                "preempted": len(preempted),
                "preempted_max_ns": max(preempted, default=0),
                "max_ns": latencies[-1],
                "p99_ns": latencies[int(len(latencies) * 0.99)],
                "p50_ns": latencies[len(latencies) // 2],
                "stats": dict(run.transport.stats),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1])
