"""The chat component: its routers and what it starts and stops."""

from __future__ import annotations

from netra.apps.component import Component


def component() -> Component:
    return Component("chat")


def worker_component() -> Component:
    """Runs agent runs taken from the queue (embedded in ``netra serve`` or ``netra worker``)."""
    return Component("worker")
