"""The app's ASGI entry: WebSocket handshakes go straight to their endpoint.

Every HTTP middleware of the app (request id, HTTP metrics, security headers, rate-limit
headers, CORS, body-size limit, error pages) passes a ``websocket`` scope through untouched,
yet each handshake still walked all of them, then FastAPI's routing and dependency machinery,
and every open socket kept those frames for its life. A WebSocket route at a fixed path whose
endpoint takes nothing but the socket is called directly instead; the ``/ws`` endpoint does
every check of the handshake itself (Origin, token, role, connection limit) and counts its
sockets and refusals. Any other WebSocket route goes through the router as usual.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints

from fastapi import APIRouter, FastAPI
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

Endpoint = Callable[[WebSocket], Awaitable[None]]


def _takes_only_the_socket(endpoint: Callable[..., Any]) -> bool:
    params = list(inspect.signature(endpoint).parameters.values())
    if len(params) != 1 or not inspect.iscoroutinefunction(endpoint):
        return False
    return get_type_hints(endpoint).get(params[0].name) is WebSocket


class SocketsFirstApp(FastAPI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._direct: dict[str, Endpoint] = {}

    def include_router(self, router: APIRouter, *args: Any, **kwargs: Any) -> None:
        """As FastAPI's; a router included as it is (no prefix or dependencies added) has its
        socket-only WebSocket routes called directly too."""
        super().include_router(router, *args, **kwargs)
        if args or kwargs:
            return
        for route in router.routes:
            if (
                isinstance(route, WebSocketRoute)  # Starlette's, or FastAPI's with no dependency
                and "{" not in route.path
                and not getattr(route, "dependencies", ())
                and _takes_only_the_socket(route.endpoint)
            ):
                self._direct[route.path] = route.endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not scope.get("root_path"):
            endpoint = self._direct.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self
                await endpoint(WebSocket(scope, receive, send))
                return
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        http_stack = super().build_middleware_stack()
        router = self.router

        async def entry(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "websocket":
                await router(scope, receive, send)
            else:
                await http_stack(scope, receive, send)

        return entry
