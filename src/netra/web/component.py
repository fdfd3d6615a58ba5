"""The static web UI: ``/`` and its assets under ``/static/``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from netra.core.component import Component
from netra.core.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}


def component() -> Component:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def index() -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @router.get("/static/{name}")
    async def asset(name: str) -> Response:
        path = (STATIC / name).resolve()
        if path.parent != STATIC or not path.is_file():
            raise NotFound("no such asset")
        return FileResponse(
            path, media_type=_TYPES.get(path.suffix), headers={"Cache-Control": "no-cache"}
        )

    return Component("web", routers=[router])
