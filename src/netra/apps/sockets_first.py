"""The app's ASGI entry: WebSocket handshakes go straight to the router.

Every HTTP middleware of the app (request id, HTTP metrics, security headers, rate-limit
headers, CORS, body-size limit, error pages) passes a ``websocket`` scope through untouched,
yet each handshake still walked all of them. A burst of connects now skips that walk; the
``/ws`` endpoint does every check of the handshake itself (Origin, token, role, connection
limit) and counts its sockets and refusals.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class SocketsFirstApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        http_stack = super().build_middleware_stack()
        router = self.router

        async def entry(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "websocket":
                await router(scope, receive, send)
            else:
                await http_stack(scope, receive, send)

        return entry
