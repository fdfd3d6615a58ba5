"""A component: the routers a domain contributes to an app, and what it starts and stops."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter

from netra.core.runtime import Runtime

Hook = Callable[[Runtime], Awaitable[None]]


@dataclass
class Component:
    name: str
    routers: list[APIRouter] = field(default_factory=list)
    start: Hook | None = None
    stop: Hook | None = None
