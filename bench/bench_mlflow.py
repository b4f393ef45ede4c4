"""B11 — MLflow ingest: the `mlflow` client's `log_batch` (1,000 metrics a call, MLflow's
own batch limit) into Tuneboard's MLflow API, beside Tuneboard's native API with the same
batch size and, when given `--mlflow-url`, an MLflow tracking server on the same machine.

MLflow's own server is not started here: it needs the full `mlflow` package (Flask,
SQLAlchemy, Alembic, pandas, huey, …), not the `mlflow-skinny` client the tests use.
Start one and pass its URL to measure it with the same client and batch size:

    pip install mlflow && mlflow server --backend-store-uri sqlite:///mlflow.db --port 5000
    python bench/bench_mlflow.py --mlflow-url http://127.0.0.1:5000

Also measured: the same log-batch JSON posted with plain http.client, beside the native
API's JSON — the server's own cost, without the MLflow client's (building protobuf
messages and their JSON takes it ~25 ms per 1,000 metrics here). Target: the
compatibility layer keeps ≥ 80 % of the native API's server throughput at the same batch
size (it parses MLflow's JSON, then goes through the same services).
"""

import argparse
import http.client
import json
import os
import time

from harness import Server, check, machine, write_result

BATCH = 1_000
KEYS = [f"metric/{i}" for i in range(10)]


def mlflow_rate(url, token, duration):
    """Points per second of `MlflowClient.log_batch` into the server at `url`."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    if token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
    else:
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    client = MlflowClient(tracking_uri=url)
    run_id = client.create_run("0", run_name="bench mlflow").info.run_id
    step, posted, now_ms = 0, 0, int(time.time() * 1000)
    started = time.perf_counter()
    while time.perf_counter() - started < duration:
        per_key = BATCH // len(KEYS)
        metrics = [
            Metric(key, 1.0 / (1 + step + i), now_ms + step + i, step + i)
            for key in KEYS
            for i in range(per_key)
        ]
        client.log_batch(run_id, metrics=metrics)
        step += per_key
        posted += BATCH
    elapsed = time.perf_counter() - started
    client.set_terminated(run_id)
    return posted / elapsed


def raw_rate(server, duration, path, body_of):
    """Points per second of POSTs to `path` of the bodies `body_of(step)` gives, sent with
    plain http.client: the server's cost, without a client library's."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    step, posted, spent = 0, 0, 0.0
    per_key = BATCH // len(KEYS)
    while spent < duration:
        body = json.dumps(body_of(step, per_key))
        t0 = time.perf_counter()
        conn.request("POST", path, body=body, headers=server.headers)
        response = conn.getresponse()
        response.read()
        spent += time.perf_counter() - t0
        assert response.status == 200, response.status
        step += per_key
        posted += BATCH
    return posted / spent


def native_rate(server, duration):
    """`POST /api/jobs/{uid}/metrics` with the same batch size."""
    _, job = server.post("/api/jobs", {"name": "bench native", "model": "m", "dataset": "d"})

    def body(step, per_key):
        points = [
            {"key": key, "step": step + i, "value": 1.0 / (1 + step + i)}
            for key in KEYS
            for i in range(per_key)
        ]
        return {"points": points}

    return raw_rate(server, duration, f"/api/jobs/{job['uid']}/metrics", body)


def compat_raw_rate(server, duration):
    """`POST /api/2.0/mlflow/runs/log-batch` with the JSON MLflow's client sends."""
    _, created = server.post("/api/2.0/mlflow/runs/create", {"experiment_id": "0"})
    run_id = created["run"]["info"]["run_id"]
    now_ms = int(time.time() * 1000)

    def body(step, per_key):
        metrics = [
            {
                "key": key,
                "value": 1.0 / (1 + step + i),
                "timestamp": str(now_ms + step + i),
                "step": str(step + i),
            }
            for key in KEYS
            for i in range(per_key)
        ]
        return {"run_id": run_id, "metrics": metrics}

    return raw_rate(server, duration, "/api/2.0/mlflow/runs/log-batch", body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--mlflow-url", help="an MLflow tracking server to measure as well")
    args = parser.parse_args()
    with Server() as server:
        compat = mlflow_rate(server.url, server.token, args.duration)
        compat_server = compat_raw_rate(server, args.duration)
        native = native_rate(server, args.duration)
    result = {
        "id": "B11",
        "name": "mlflow ingest",
        "batch": BATCH,
        "duration_s": args.duration,
        "tuneboard_mlflow_api_points_per_s": round(compat),
        "tuneboard_mlflow_api_server_points_per_s": round(compat_server),
        "tuneboard_native_api_server_points_per_s": round(native),
        "mlflow_server_points_per_s": None,
        "mlflow_server": "not measured: needs the full mlflow package (pass --mlflow-url)",
        "machine": machine(),
    }
    checks = [
        check(
            "B11 MLflow client log_batch (1,000) into Tuneboard",
            f"{compat:,.0f} points/s",
            "reported beside MLflow's own server",
            True,
        ),
        check(
            "B11 MLflow log-batch JSON vs native, server side (1,000)",
            f"{compat_server:,.0f} vs {native:,.0f} points/s",
            "≥ 80 % of the native API",
            compat_server >= 0.8 * native,
        ),
    ]
    if args.mlflow_url:
        theirs = mlflow_rate(args.mlflow_url, None, args.duration)
        result["mlflow_server_points_per_s"] = round(theirs)
        result["mlflow_server"] = args.mlflow_url
        checks.append(
            check(
                "B11 the same into MLflow's own server",
                f"{theirs:,.0f} points/s",
                "reported beside Tuneboard's",
                True,
            )
        )
    result["checks"] = checks
    write_result("b11_mlflow", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
