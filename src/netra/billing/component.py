"""The billing component: its routers and what it starts and stops."""

from __future__ import annotations

from netra.apps.component import Component


def component() -> Component:
    return Component("billing")
