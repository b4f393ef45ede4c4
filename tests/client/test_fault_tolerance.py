"""Server crashes during a run: nothing lost, nothing duplicated, training never waits.

The client reaches the server through `CountingProxy`, which records every metrics batch
the client sent and whether the server's 2xx answer reached the client: the server's
upsert would hide a client that sends acknowledged batches again, the proxy does not.
"""

import http.client
import json
import secrets
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PRODUCER = Path(__file__).with_name("fault_producer.py")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class CountingProxy:
    """An HTTP proxy on a free loopback port in front of `upstream_port`.

    `batches` lists, in the order the client sent them, each metrics POST as
    `(points, acknowledged)`: its (key, step) pairs, and whether a 2xx answer from the
    server was passed back to the client. When the server cannot be reached (killed) the
    proxy closes the client's connection without an answer, as a dead server does.
    """

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.batches = []
        # Requests of any kind (metrics, logs, status) the client sent into an outage.
        self.unanswered = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                proxy._forward(self)

            def do_POST(self):
                proxy._forward(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _forward(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        points = None
        if handler.command == "POST" and handler.path.endswith("/metrics") and body:
            points = [(p["key"], p["step"]) for p in json.loads(body)["points"]]
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            upstream.close()
        except (OSError, http.client.HTTPException):
            self._record(points, acknowledged=False)
            handler.close_connection = True
            return
        try:
            handler.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            handler.wfile.flush()
        except OSError:
            self._record(points, acknowledged=False)
            return
        self._record(points, acknowledged=200 <= response.status < 300)

    def _record(self, points, *, acknowledged):
        if not acknowledged:
            with self._lock:
                self.unanswered += 1
        if points is not None:
            with self._lock:
                self.batches.append((points, acknowledged))

    def resent_after_acknowledgement(self):
        """(batch index, points) of every batch holding points the client had already
        had acknowledged; retries of batches never acknowledged are not counted."""
        acknowledged, resent = set(), []
        for index, (points, ok) in enumerate(self.batches):
            again = acknowledged.intersection(points)
            if again:
                resent.append((index, sorted(again)[:5], len(again)))
            if ok:
                acknowledged.update(points)
        return resent

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def stored_points(server, uid):
    (count,) = server.query(
        "SELECT COUNT(*) FROM jobs_metricpoint p JOIN jobs_job j ON j.id = p.job_id "
        "WHERE j.uid = ?",
        uid,
    )[0]
    return count


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_run_survives_two_server_kills_without_loss_duplicates_or_blocking(server, client_env):
    uid = f"fault-{secrets.token_hex(3)}"
    proxy = CountingProxy(server.port)
    producer = subprocess.Popen(
        [sys.executable, str(PRODUCER), uid],
        env={**client_env, "TUNEBOARD_SERVER": proxy.url},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert producer.stdout.readline().strip() == "started"
        for _ in range(2):
            assert producer.stdout.readline().startswith("kill at ")
            wait_until(lambda: stored_points(server, uid) > 0, 20, "points to arrive")
            server.kill()
            producer.stdin.write("go\n")
            producer.stdin.flush()
            time.sleep(1.0)  # an outage the client must ride out (a duration, not an event)
            assert producer.poll() is None, "the run ended while the server was down"
            server.start()
        out, err = producer.communicate(timeout=120)
    finally:
        if producer.poll() is None:
            producer.kill()
        proxy.close()
    assert producer.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])

    assert report["delivered"] is True
    # What the client sent: every point acknowledged once, none sent again after that.
    assert proxy.resent_after_acknowledgement() == []
    acknowledged = {p for points, ok in proxy.batches if ok for p in points}
    assert len(acknowledged) == 50_000
    # The client met the outages: requests went unanswered (whichever kind it sent first
    # into each; its backoff may hold the metrics until the server is back).
    assert proxy.unanswered > 0, "no request went unanswered: no outage seen"
    assert stored_points(server, uid) == 50_000
    (distinct,) = server.query(
        "SELECT COUNT(DISTINCT p.key || ':' || p.step) FROM jobs_metricpoint p "
        "JOIN jobs_job j ON j.id = p.job_id WHERE j.uid = ?",
        uid,
    )[0]
    assert distinct == 50_000
    last = server.query(
        "SELECT p.value FROM jobs_metricpoint p JOIN jobs_job j ON j.id = p.job_id "
        "WHERE j.uid = ? AND p.key = 'fault/e' AND p.step = 9999",
        uid,
    )
    assert last == [(9.999 + 4,)]
    assert server.job_row(uid)["status"] == "completed"

    assert report["stats"]["retries"] > 0  # the outages were felt…
    assert report["stats"].get("spooled", 0) > 0  # …and went through the spool files
    assert report["calls"] == 10_000
    print(
        f"run.log latency: p50 {report['p50_ns'] / 1e3:.1f} µs, "
        f"p99 {report['p99_ns'] / 1e3:.1f} µs, max {report['max_ns'] / 1e6:.2f} ms; "
        f"{report['preempted']} calls preempted by the kernel "
        f"(max {report['preempted_max_ns'] / 1e6:.2f} ms)"
    )
    # No call waited on the network: one that did would take at least the connect
    # timeout (seconds). Calls the kernel preempted are counted apart; what remains is
    # waiting for the GIL behind the sender thread, a few ms at most on a loaded machine.
    assert report["max_ns"] < 50_000_000
    assert report["preempted"] < 100  # a loaded machine, not a client that yields
