"""The job page's resource panel of a multi-node job in Chromium: one row per host with
its GPUs, kept live as each host's samples arrive, and the charts of the host chosen.

The job's samples are reported through the API as each node's client does
(`POST /api/resources` with the job's uid and the node's host name).
"""

import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.support.server import ROOT

pytestmark = pytest.mark.e2e

GIB = 1024**3


def reading(second, cpu, gpus):
    return {
        "time": f"2026-11-30T10:00:{second:02d}Z",
        "cpu_percent": cpu,
        "ram_used": 12 * GIB,
        "ram_total": 64 * GIB,
        "gpus": [
            {"index": i, "util": util, "mem_used": 40 * GIB, "mem_total": 80 * GIB}
            for i, util in enumerate(gpus)
        ],
    }


def host_row(page, host):
    return page.locator(f'#resource-host-rows tr[data-host="{host}"]')


def headline(page, chart):
    return page.locator(f'[data-resource="{chart}"] [data-f="value"]')


def points(page, chart):
    return page.locator(f'[data-resource="{chart}"] canvas')


def test_a_multi_node_job_shows_a_row_per_host_live_and_the_chosen_hosts_charts(page, report):
    uid = "e2e-two-nodes"
    report("/api/jobs", {"uid": uid, "name": uid, "model": "llama-tiny", "host": "node-a"})
    report(f"/api/jobs/{uid}/stages", {"stage": "training", "status": "active"})
    report(f"/api/jobs/{uid}/status", {"status": "running", "step": 1})
    node_a = [reading(s, 20.0, [90.0, 70.0]) for s in range(4)]
    node_b = [reading(s, 80.0, [50.0]) for s in range(2)]
    report("/api/resources", {"host": "node-a", "job": uid, "samples": node_a})
    report("/api/resources", {"host": "node-b", "job": uid, "samples": node_b})

    page.goto(f"/job/{uid}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("body")).to_have_attribute("data-synced", "true")

    rows = page.locator("#resource-host-rows tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#resources-hint")).to_have_text("2 hosts · charts of node-a")
    # The job's own host (global rank 0) is the one charted first.
    expect(host_row(page, "node-a").locator("button")).to_have_attribute("aria-pressed", "true")
    expect(host_row(page, "node-b").locator("button")).to_have_attribute("aria-pressed", "false")
    expect(host_row(page, "node-a").locator('[data-f="gpus"]')).to_have_text(
        "GPU 0 90% 40.0 / 80 GiB · GPU 1 70% 40.0 / 80 GiB"
    )
    expect(host_row(page, "node-a").locator('[data-f="samples"]')).to_have_text("4")
    expect(host_row(page, "node-b").locator('[data-f="gpus"]')).to_have_text(
        "GPU 0 50% 40.0 / 80 GiB"
    )
    expect(host_row(page, "node-b").locator('[data-f="cpu"]')).to_have_text("80%")
    expect(host_row(page, "node-b").locator('[data-f="ram"]')).to_have_text("12.0 / 64 GiB")
    # The charts hold node-a's samples only: 4 CPU readings, 2 GPUs × 4.
    expect(headline(page, "cpu")).to_have_text("20%")
    expect(points(page, "cpu")).to_have_attribute("data-points", "4")
    expect(points(page, "gpu_util")).to_have_attribute("data-points", "8")

    # Live: a third node joins, node-b reports again; node-a's charts stay as they were.
    report("/api/resources", {"host": "node-c", "job": uid, "samples": [reading(5, 5.0, [])]})
    expect(rows).to_have_count(3)
    expect(host_row(page, "node-c").locator('[data-f="gpus"]')).to_have_text("none")
    expect(host_row(page, "node-c").locator('[data-f="samples"]')).to_have_text("1")
    expect(page.locator("#resources-hint")).to_have_text("3 hosts · charts of node-a")
    report("/api/resources", {"host": "node-b", "job": uid, "samples": [reading(6, 85.0, [55.0])]})
    expect(host_row(page, "node-b").locator('[data-f="cpu"]')).to_have_text("85%")
    expect(host_row(page, "node-b").locator('[data-f="samples"]')).to_have_text("3")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.host)") == [
        "node-a",
        "node-b",
        "node-c",
    ]
    expect(headline(page, "cpu")).to_have_text("20%")
    expect(points(page, "cpu")).to_have_attribute("data-points", "4")

    # Choosing node-b draws its samples, its one GPU only.
    host_row(page, "node-b").locator("button").click()
    expect(host_row(page, "node-b").locator("button")).to_have_attribute("aria-pressed", "true")
    expect(host_row(page, "node-a").locator("button")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#resources-hint")).to_have_text("3 hosts · charts of node-b")
    expect(headline(page, "cpu")).to_have_text("85%")
    expect(headline(page, "gpu_util")).to_have_text("55%")
    expect(points(page, "cpu")).to_have_attribute("data-points", "3")
    expect(points(page, "gpu_util")).to_have_attribute("data-points", "3")

    # A new sample of the host on show is drawn live; one of another host is not.
    report("/api/resources", {"host": "node-b", "job": uid, "samples": [reading(7, 60.0, [65.0])]})
    expect(headline(page, "cpu")).to_have_text("60%")
    expect(points(page, "cpu")).to_have_attribute("data-points", "4")
    report("/api/resources", {"host": "node-a", "job": uid, "samples": [reading(8, 33.0, [1, 2])]})
    expect(host_row(page, "node-a").locator('[data-f="samples"]')).to_have_text("5")
    expect(host_row(page, "node-a").locator('[data-f="cpu"]')).to_have_text("33%")
    expect(headline(page, "cpu")).to_have_text("60%")
    expect(points(page, "cpu")).to_have_attribute("data-points", "4")


def test_a_single_host_job_shows_its_one_row_with_the_sample_count(page, report):
    uid = "e2e-one-node"
    report("/api/jobs", {"uid": uid, "name": uid, "model": "llama-tiny", "host": "solo"})
    report(f"/api/jobs/{uid}/status", {"status": "running", "step": 1})
    samples = [reading(s, 40.0, [10.0]) for s in range(3)]
    report("/api/resources", {"host": "solo", "job": uid, "samples": samples})
    page.goto(f"/job/{uid}")
    expect(page.locator("body")).to_have_attribute("data-synced", "true")
    expect(page.locator("#resource-host-rows tr")).to_have_count(1)
    expect(host_row(page, "solo").locator('[data-f="samples"]')).to_have_text("3")
    expect(page.locator("#resources-hint")).to_have_text("host solo")
    expect(headline(page, "cpu")).to_have_text("40%")


NODE_SCRIPT = """
import sys
import tuneboard

run = tuneboard.init(name="two real nodes", system_metrics_interval=0.3)
run.stage("training")
run.log({"train/loss": 1.0}, step=1)
run.transport.flush(30)  # the job exists on the server before the test opens its page
print("uid", run.uid, run.role, flush=True)
sys.stdin.readline()  # training, until the test says stop
run.finish()
"""


def test_two_real_nodes_each_sampling_its_host_fill_the_rows_live(page, server):
    """A two-node launch (RANK 0 and 1, each its node's LOCAL_RANK 0) with the client's
    own samplers: the page shows both hosts while the job runs, their counts growing."""
    launch = "e2e-launch"
    hosts = ("e2e-node-0", "e2e-node-1")
    procs = []
    for rank, host in enumerate(hosts):
        env = {
            **os.environ,
            "TUNEBOARD_SERVER": server["url"],
            "TUNEBOARD_TOKEN": server["token"],
            "PYTHONPATH": os.pathsep.join([str(ROOT / "client"), os.environ.get("PYTHONPATH", "")]),
            "RANK": str(rank),
            "LOCAL_RANK": "0",
            "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "1",
            "TORCHELASTIC_RUN_ID": launch,
            "TUNEBOARD_HOST": host,
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", NODE_SCRIPT],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        _, uid, role = procs[0].stdout.readline().split()
        assert role == "main"
        page.goto(f"/job/{uid}")
        expect(page.locator("body")).to_have_attribute("data-synced", "true")
        for host in hosts:
            expect(host_row(page, host)).to_have_count(1, timeout=20_000)
        expect(host_row(page, hosts[0]).locator("button")).to_have_attribute("aria-pressed", "true")
        # Both nodes keep sampling: each row's count grows while the page is open.
        for host in hosts:
            cell = host_row(page, host).locator('[data-f="samples"]')
            seen = int(cell.inner_text())
            page.wait_for_function(
                "([el, n]) => Number(el.textContent) > n",
                arg=[cell.element_handle(), seen],
                timeout=20_000,
            )
    finally:
        for proc in procs:
            proc.communicate("stop\n", timeout=60)
    assert [proc.returncode for proc in procs] == [0, 0]
    expect(page.locator("#job-status")).to_have_text("Completed", timeout=20_000)
    expect(page.locator("#resource-host-rows tr")).to_have_count(2)
