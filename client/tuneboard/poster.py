"""One HTTP connection to the server: keep-alive requests with the token, and the two
ways a request fails (`RetryLater`: try again, after `Retry-After` when given;
`Rejected`: the server refused this body, sending it again would not help)."""

import http.client
import json
import urllib.parse

USER_AGENT = "tuneboard-client/0.1"


class RetryLater(Exception):
    """The server could not take the request now; try again after a backoff."""

    def __init__(self, reason, retry_after=None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Rejected(Exception):
    """The server refused the request for good (a 4xx other than 429)."""

    def __init__(self, status, body):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


class HttpPoster:
    """POSTs JSON over one kept-alive connection, reconnecting when it breaks."""

    def __init__(self, server, token, *, timeout=10.0):
        parts = urllib.parse.urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"server must be an http(s) URL, got {server!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.base_path = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._conn = None

    def _connection(self):
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method, path, body=None):
        """Send one request; returns `(status, headers, body bytes)`.

        Raises `RetryLater` for anything that is not the server's final word (no
        connection, a timeout, a broken keep-alive connection).
        """
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Authorization": f"Bearer {self.token}",
        }
        data = None
        if body is not None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            reused = self._conn is not None
            try:
                conn = self._connection()
                conn.request(method, self.base_path + path, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                # A kept-alive connection the server closed (e.g. it restarted) fails on
                # first use: try once more on a fresh connection before backing off.
                if reused and attempt == 1:
                    continue
                raise RetryLater(f"{type(exc).__name__}: {exc}") from None
            if response.will_close:
                self.close()
            return response.status, response.headers, payload
        raise AssertionError("unreachable")  # pragma: no cover

    def post_json(self, path, body):
        """POST `body` (JSON text); returns the parsed answer or raises RetryLater/Rejected."""
        status, headers, payload = self.request("POST", path, body)
        if 200 <= status < 300:
            try:
                return json.loads(payload or b"null")
            except ValueError:
                return None
        if status == 429 or status >= 500:
            retry_after = None
            raw = headers.get("Retry-After")
            if raw:
                try:
                    retry_after = max(0.0, float(raw))
                except ValueError:
                    retry_after = None
            raise RetryLater(f"HTTP {status}", retry_after)
        raise Rejected(status, payload.decode("utf-8", "replace"))
