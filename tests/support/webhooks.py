"""Emit a webhook event from a test that has no unit of work of its own."""

from __future__ import annotations

from typing import Any

from netra.billing.webhooks import deliver_via, emit_event
from netra.core.runtime import Runtime


async def emit(runtime: Runtime, org_id: str, type: str, data: dict[str, Any]) -> list[str]:
    """Record the event in a unit of work of its own; its deliveries go to the dispatcher after
    the commit, as from any caller's transaction."""
    return await runtime.db.run(
        lambda session: emit_event(session, org_id, type, data, deliver=deliver_via(runtime))
    )
