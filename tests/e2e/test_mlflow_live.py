"""An unmodified MLflow script shows live on the job page, through the MLflow API.

The example (examples/mlflow/quickstart.py) knows nothing of Tuneboard: two environment
variables point MLflow's client at the server. The page is opened while the run is
running; its loss chart grows as the script logs, and the run's end turns the badge.
"""

import os
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient
from playwright.sync_api import expect

from tests.support.server import ROOT

pytestmark = pytest.mark.e2e

STEPS = 40
EXPERIMENT = "mlflow-e2e"

LOSS_POINTS = """() => {
  for (const chart of Object.values(window.Chart?.instances || {})) {
    for (const ds of chart.data.datasets) {
      if (ds.$role === "raw" && ds.$series === "train/loss") return ds.data.length;
    }
  }
  return 0;
}"""


def running_run(client, deadline):
    """The id of the script's run once MLflow's client sees it running (search_runs)."""
    while time.monotonic() < deadline:
        experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is not None:
            runs = client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")
            if runs:
                return runs[0].info.run_id
        time.sleep(0.2)  # the script is starting: there is no event to wait on
    raise AssertionError("the MLflow script's run never appeared")


def test_an_unmodified_mlflow_script_shows_live_on_the_job_page(page, server, monkeypatch):
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": server["url"],
        "MLFLOW_TRACKING_TOKEN": server["token"],
        "QUICKSTART_STEPS": str(STEPS),
        "QUICKSTART_DELAY": "0.4",
        "QUICKSTART_EXPERIMENT": EXPERIMENT,
    }
    script = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "mlflow" / "quickstart.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", server["token"])
        client = MlflowClient(tracking_uri=server["url"])
        run_id = running_run(client, time.monotonic() + 60)

        page.goto(f"/job/{run_id}")
        expect(page.locator("#job-status")).to_have_text("Running")
        expect(page.locator("#job-source")).to_contain_text("via the MLflow API")
        expect(page.locator(".job-meta")).to_contain_text("Qwen/Qwen2.5-0.5B")
        first = page.evaluate(LOSS_POINTS)
        assert first < STEPS
        # Points arrive while the script runs, pushed over the page's socket.
        page.wait_for_function(f"() => ({LOSS_POINTS})() > {first}", timeout=20_000)
        assert page.locator("#job-status").inner_text() == "Running"

        expect(page.locator("#job-status")).to_have_text("Completed", timeout=60_000)
        page.wait_for_function(f"() => ({LOSS_POINTS})() === {STEPS}", timeout=20_000)
        out, err = script.communicate(timeout=30)
        assert script.returncode == 0, err[-2000:]
        assert f"run_id={run_id}" in out
    finally:
        if script.poll() is None:
            script.kill()
            script.communicate()
