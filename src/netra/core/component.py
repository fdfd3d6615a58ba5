"""A component: the routers a domain contributes to an app, what it starts and stops, and the
services it provides to and needs from the others (checked before the app starts)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter

from netra.core.runtime import Runtime
from netra.core.services import Service

Hook = Callable[[Runtime], Awaitable[None]]


@dataclass
class Component:
    name: str
    routers: list[APIRouter] = field(default_factory=list)
    start: Hook | None = None
    stop: Hook | None = None
    provides: tuple[Service[Any], ...] = ()  # set in ``runtime.services`` by ``start``
    needs: tuple[Service[Any], ...] = ()  # provided by a component listed before this one
