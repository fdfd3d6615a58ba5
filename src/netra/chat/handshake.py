"""The WebSocket handshake rules of netra.v1: where the token may come from, and Origin.

Pure functions (unit-tested without sockets). Starlette's CORS middleware does not cover
WebSockets, so the endpoint checks ``Origin`` itself (cross-site WebSocket hijacking).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from netra.chat.frames import PROTOCOL

TOKEN_SUBPROTOCOL_PREFIX = "jwt."
LOOPBACK = ("127.0.0.1", "localhost", "::1")
QUERY_TOKEN_NAMES = ("token", "access_token", "jwt", "auth", "authorization", "bearer")


@dataclass(frozen=True, slots=True)
class HandshakeAuth:
    token: str | None  # None: refuse (see ``reason``)
    subprotocol: str | None  # the subprotocol the server selects (``netra.v1`` when offered)
    reason: str = ""


def extract_token(
    authorization: str | None, subprotocols: Iterable[str], query_keys: Iterable[str]
) -> HandshakeAuth:
    """The access token from ``Authorization: Bearer`` or the ``jwt.<token>`` subprotocol.

    A token in the query string is refused outright (it leaks into logs and histories), even
    when a header token is present too.
    """
    offered = [p.strip() for p in subprotocols if p and p.strip()]
    selected = PROTOCOL if PROTOCOL in offered else None
    if any(k.lower() in QUERY_TOKEN_NAMES for k in query_keys):
        return HandshakeAuth(None, selected, "a token in the query string is refused")
    header_token: str | None = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return HandshakeAuth(None, selected, "expected 'Authorization: Bearer <token>'")
        header_token = value.strip()
    proto_tokens = [
        p[len(TOKEN_SUBPROTOCOL_PREFIX) :]
        for p in offered
        if p.startswith(TOKEN_SUBPROTOCOL_PREFIX) and len(p) > len(TOKEN_SUBPROTOCOL_PREFIX)
    ]
    if len(proto_tokens) > 1:
        return HandshakeAuth(None, selected, "more than one token subprotocol")
    proto_token = proto_tokens[0] if proto_tokens else None
    if header_token and proto_token and header_token != proto_token:
        return HandshakeAuth(None, selected, "two different tokens offered")
    token = header_token or proto_token
    if not token:
        return HandshakeAuth(None, selected, "missing access token")
    return HandshakeAuth(token, selected)


def normalise_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origin_allowed(origin: str | None, allowed: Iterable[str], host: str | None = None) -> bool:
    """No Origin header (a non-browser client) is allowed; a browser's must be listed.

    Also allowed: the page served by this very server on a loopback address (``netra serve
    --port 9000`` opened at http://127.0.0.1:9000), i.e. Origin's host equal to the Host header
    *and* loopback, so a DNS-rebinding page (Host: its own name) gains nothing from it.
    """
    if origin is None:
        return True
    if normalise_origin(origin) in {normalise_origin(a) for a in allowed}:
        return True
    if not host:
        return False
    netloc = urlsplit(origin.strip()).netloc.lower()
    hostname = (urlsplit(f"//{host}").hostname or "").lower()
    return netloc == host.strip().lower() and hostname in LOOPBACK


def header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value if value else None
