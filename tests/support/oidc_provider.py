"""A small OpenID Connect provider on a loopback port, for the single sign-on tests.

It speaks the real protocol over real HTTP: a discovery document, a JWKS with its RSA
key, an authorization endpoint that consents at once (it redirects back with a code for
the `person` the test chose), a token endpoint that checks the client's secret, the
redirect URI and the PKCE verifier and answers with an RS256-signed ID token, and a
userinfo endpoint. A test can make it misbehave the way an attacker would: answer with
another state (`forged_state`) or sign a token for another nonce (`forged_nonce`).

Runs in a thread of the test process (`start()` / `stop()`, or a context manager).
Nothing of Tuneboard is imported.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KEY_ID = "test-key-1"


class OpenIDProvider:
    def __init__(self, *, client_id, client_secret):
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.person = {}  # the claims of whoever "signs in" next
        self.forged_state = None
        self.forged_nonce = None
        self.codes = {}
        self.tokens = {}
        self.authorize_requests = []  # the query of each authorization request
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- the protocol ------------------------------------------------------------------

    def discovery(self):
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self):
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]}

    def authorize(self, query):
        """(status, headers, body): a redirect back to the client with a code."""
        self.authorize_requests.append(query)
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}, {"error": "unauthorized_client"}
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {}, {"error": "invalid_request", "error_description": "PKCE required"}
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {
                "person": dict(self.person),
                "nonce": self.forged_nonce or query.get("nonce"),
                "redirect_uri": query["redirect_uri"],
                "challenge": query["code_challenge"],
            }
        state = self.forged_state or query.get("state", "")
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': state})}"
        return 302, {"Location": location}, None

    def token(self, form):
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return 401, {}, {"error": "invalid_client"}
        with self.lock:
            grant = self.codes.pop(form.get("code", ""), None)  # a code is used once
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {}, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {}, {"error": "invalid_grant", "error_description": "redirect_uri"}
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if challenge.decode() != grant["challenge"]:
            return 400, {}, {"error": "invalid_grant", "error_description": "PKCE"}
        now = int(time.time())
        person = grant["person"]
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": person["sub"],
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **{k: v for k, v in person.items() if k != "sub"},
        }
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KEY_ID})
        access_token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[access_token] = person
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": 300}
        return 200, {}, {**body, "id_token": id_token}

    def userinfo(self, authorization):
        scheme, _, token = authorization.partition(" ")
        with self.lock:
            person = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if person is None:
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, None
        return 200, {}, person

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, headers, body):
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._answer(200, {}, provider.discovery())
                elif url.path == "/jwks":
                    self._answer(200, {}, provider.jwks())
                elif url.path == "/authorize":
                    self._answer(*provider.authorize(query))
                elif url.path == "/userinfo":
                    self._answer(*provider.userinfo(self.headers.get("Authorization", "")))
                else:
                    self._answer(404, {}, {"error": "not_found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {k: v[-1] for k, v in parse_qs(raw).items()}
                if urlsplit(self.path).path == "/token":
                    self._answer(*provider.token(form))
                else:
                    self._answer(404, {}, {"error": "not_found"})

        return Handler
