"""Webhook signatures (API.md): ``X-Netra-Signature: t=<unix seconds>,sha256=<hex>`` where the
hex is the HMAC-SHA256, with the webhook's secret, of ``"<t>.<raw body>"``.

The timestamp is signed with the body, so a captured delivery cannot be replayed later: a
receiver refuses a ``t`` older than :data:`TOLERANCE_S` (5 minutes). :func:`verify` is the
check a receiver makes (docs/webhooks.md shows it standalone).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-Netra-Signature"
TOLERANCE_S = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},sha256={_digest(secret, t, body)}"


def parse(header: str) -> tuple[int, list[str]] | None:
    """(t, [sha256 values]) of a signature header, or None when malformed."""
    t: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            t = int(value)
        elif name == "sha256" and value:
            digests.append(value)
    return None if t is None or not digests else (t, digests)


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> bool:
    """What a receiver does: the timestamp within ``tolerance_s`` of now, and one of the
    header's ``sha256`` values equal (constant time) to the HMAC of ``"<t>.<body>"``."""
    parsed = parse(header) if header else None
    if parsed is None:
        return False
    t, digests = parsed
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = _digest(secret, t, body)
    return any(hmac.compare_digest(expected, d) for d in digests)
