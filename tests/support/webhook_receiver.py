"""A real HTTP webhook receiver for tests: a tiny server on a free loopback port in a thread.

It checks each request's ``X-Netra-Signature`` against the secret it is given, answers the
statuses it was scripted with (then 200), and records every body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def signature_valid(secret: str, body: bytes, header: str, tolerance_s: int = 300) -> bool:
    """The receiver's check as docs/webhooks.md describes it, written independently of Netra:
    ``t=<unix>,sha256=<hex HMAC-SHA256 of "<t>.<body>">``, ``t`` within five minutes."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not fields.get("t", "").isdigit() or "sha256" not in fields:
        return False
    if abs(time.time() - int(fields["t"])) > tolerance_s:
        return False
    signed = fields["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["sha256"])


@dataclass
class Received:
    body: bytes
    signature: str | None
    signature_ok: bool
    status: int
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    secret: str = ""
    script: list[int] = field(default_factory=list)  # statuses answered first, in order
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        signature = headers.get("x-netra-signature")
        ok = signature is not None and signature_valid(self.secret, body, signature)
        with self.lock:
            status = self.script.pop(0) if self.script else 200
            self.requests.append(Received(body, signature, ok, status, headers))
        return status

    def delivered(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    async def wait_for(self, count: int, timeout_s: float = 15.0) -> list[Received]:
        """Wait until ``count`` requests were answered 2xx; all requests so far."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.delivered()) < count:
            if loop.time() > deadline:
                raise AssertionError(f"receiver got {self.requests!r}, wanted {count} delivered")
            await asyncio.sleep(0.02)
        with self.lock:
            return list(self.requests)


@contextmanager
def webhook_receiver(*script: int, path: str = "/hook") -> Iterator[Receiver]:
    receiver = Receiver(script=list(script))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle(body, headers)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
