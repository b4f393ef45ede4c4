"""`python -m tuneboard.agent`: a remote host's samples reach the resource API."""

import secrets
import subprocess
import sys

import pytest
from tuneboard.agent import Agent

pytest.importorskip("psutil")


def test_agent_posts_samples_that_the_resource_api_returns_for_its_host(server, client_env):
    host = f"gpu-node-{secrets.token_hex(3)}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuneboard.agent",
            "--server",
            server.url,
            "--token",
            server.token,
            "--host",
            host,
            "--interval",
            "0.2",
            "--count",
            "3",
        ],
        env=client_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    answer = server.get(f"/api/training/resources?host={host}")
    assert answer["host"] == host
    assert answer["total"] == 3
    samples = answer["samples"]
    assert [s["host"] for s in samples] == [host] * 3
    assert all(0 <= s["cpu_percent"] <= 100 for s in samples)
    assert all(s["ram_total"] > 0 and 0 < s["ram_used"] <= s["ram_total"] for s in samples)
    assert samples[0]["time"] < samples[-1]["time"]


def test_agent_links_samples_to_the_job_it_is_told_about(server):
    from tuneboard import init

    # The run samples nothing itself: only the agent's samples are counted.
    run = init(server=server.url, token=server.token, name="agent-linked", system_metrics=False)
    run.stage("training")
    assert run.transport.flush(timeout=10)
    host = f"node-{secrets.token_hex(3)}"
    agent = Agent(server=server.url, token=server.token, host=host, job=run.uid)
    agent.run(interval=0.05, count=2)
    assert agent.close(timeout=10)
    run.finish(timeout=10)

    answer = server.get(f"/api/training/resources?job={run.uid}")
    assert answer["total"] == 2
    assert {s["host"] for s in answer["samples"]} == {host}
