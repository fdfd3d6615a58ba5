"""The static web UI, served at ``/``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from netra.apps.component import Component

STATIC = Path(__file__).resolve().parent / "static"


def component() -> Component:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def index() -> Response:
        page = STATIC / "index.html"
        if not page.exists():
            return Response("Netra is running. The web UI is not built.", media_type="text/plain")
        return FileResponse(page)

    return Component("web", routers=[router])
