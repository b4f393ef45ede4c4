"""Real receivers of alert deliveries for tests: an HTTP endpoint and an SMTP server,
each on a free loopback port, recording what arrives and signalling each arrival."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


class HttpReceiver:
    """Answers each POST with the next queued status (then 200) and keeps the request."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests = []  # (headers dict, raw body bytes, status answered)
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    code = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append((dict(self.headers), raw, code))
                    receiver.arrived.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def bodies(self):
        return [json.loads(raw) for _, raw, _ in self.requests]

    def wait_for(self, count, timeout=10.0):
        """Block until `count` requests arrived (or fail after `timeout` seconds)."""
        with self.arrived:
            ok = self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
        assert ok, f"expected {count} requests, got {len(self.requests)}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpReceiver:
    """An aiosmtpd server on loopback keeping every message it receives."""

    def __init__(self):
        self.messages = []  # (envelope sender, recipients, content text)
        self.arrived = threading.Condition()
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                content = envelope.content.decode("utf-8", "replace")
                with receiver.arrived:
                    receiver.messages.append((envelope.mail_from, envelope.rcpt_tos, content))
                    receiver.arrived.notify_all()
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def wait_for(self, count, timeout=10.0):
        """Block until `count` messages arrived (or fail after `timeout` seconds)."""
        with self.arrived:
            ok = self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        assert ok, f"expected {count} messages, got {len(self.messages)}"

    def close(self):
        self.controller.stop()
