"""What a deployed web app shows strangers: security headers, operator-only endpoints, and no
credentials in the logs.

- :class:`SecurityHeadersMiddleware`: every HTTP answer carries ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy: no-referrer``, a Content Security Policy (``default-src
  'self'; frame-ancestors 'none'``; the interactive API docs, which load their scripts from a
  CDN, are left without it) and, when the public URL is https, HSTS.
- :func:`operator_allowed`: ``/metrics`` and the details of ``/health/ready`` are for the
  operator. In development and test they are open; elsewhere they need ``Authorization:
  Bearer <NETRA_METRICS_TOKEN>`` (and ``/metrics`` answers 404 when no token is configured).
- :func:`redact_credentials`: a logging filter on uvicorn's loggers that masks the values of
  credential-like query parameters (a WebSocket client that puts its token in the URL is
  refused, but uvicorn logs the URL before the app sees it).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netra.core.settings import Settings

CSP = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
_DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hsts = settings.public_url.startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        with_csp = not path.startswith(_DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if with_csp:
                    wanted.append((b"content-security-policy", CSP.encode()))
                if self.hsts:
                    wanted.append((b"strict-transport-security", HSTS.encode()))
                headers += [(k, v) for k, v in wanted if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def operator_allowed(request: Request, settings: Settings) -> bool:
    """May this caller see operator details (metrics, readiness details)?"""
    if settings.is_dev:
        return True
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not token:
        return False
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )


def docs_enabled(settings: Settings) -> bool:
    return settings.docs_enabled if settings.docs_enabled is not None else settings.is_dev


# ---- logs -------------------------------------------------------------------------------

_SECRET_QUERY = re.compile(
    r"([?&](?:token|access_token|refresh_token|id_token|jwt|auth|authorization|bearer|"
    r"api_key|apikey|key|secret|password|code)=)[^&\s\"']*",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _SECRET_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


class _RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, MutableMapping):
            args: Any = record.args
            for k, v in list(args.items()):
                if isinstance(v, str):
                    args[k] = redact(v)
        return True


_FILTER = _RedactCredentials()
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn")


def redact_credentials() -> None:
    """Install the filter on the server's loggers (idempotent)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
