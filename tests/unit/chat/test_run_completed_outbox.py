"""The ``run.completed`` webhook event is recorded in the transaction that stores the run's final
event (and ends the run): both or neither, then handed to delivery after the commit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from netra.billing.models import Webhook, WebhookDelivery, WebhookEvent
from netra.chat import service
from netra.chat.events import NewEvent, append_events
from netra.chat.models import Run
from netra.core.context import UserContext
from netra.core.db import new_id
from netra.core.runtime import Runtime
from support.chat_runtime import roomy_limits

CTX = UserContext(user_id="u1", org_id="o1", tier="enterprise", role="member")
FINAL = {"agent": "supervisor", "status": "succeeded"}


async def _run_with_a_webhook(runtime: Runtime) -> str:
    async def noop(job: dict[str, Any]) -> None:
        return None

    async def setup(session: Any) -> str:
        session.add(Webhook(id=new_id(), org_id="o1", url="http://receiver.test/hook",
                            secret="whsec_x", events=["run.completed"]))  # fmt: skip
        ack = await service.submit_user_message(
            session, CTX, text="q", thread_id=None, frame_id=None, limits=roomy_limits(),
            enqueue=noop,
        )  # fmt: skip
        return ack.run_id

    run_id: str = await runtime.db.run(setup)
    return run_id


async def _state(runtime: Runtime, run_id: str) -> tuple[str, list[str]]:
    async def read(session: Any) -> tuple[str, list[str]]:
        status = await session.scalar(select(Run.status).where(Run.id == run_id))
        bodies = list(await session.scalars(select(WebhookEvent.body)))
        return str(status), bodies

    result: tuple[str, list[str]] = await runtime.db.run(read)
    return result


async def test_the_final_event_and_run_completed_commit_together(runtime: Runtime) -> None:
    run_id = await _run_with_a_webhook(runtime)
    batch = [NewEvent(run_id, "o1", "agent_started", {"agent": "supervisor"}),
             NewEvent(run_id, "o1", "agent_completed", FINAL)]  # fmt: skip

    async def fails_after(session: Any) -> None:
        await append_events(session, batch)
        raise RuntimeError("the transaction dies before its commit")

    with pytest.raises(RuntimeError):
        await runtime.db.run(fails_after)
    assert await _state(runtime, run_id) == ("queued", [])  # neither the end nor the event

    handed: list[list[str]] = []
    await runtime.db.run(lambda s: append_events(s, batch, handed.append))
    status, [body] = await _state(runtime, run_id)
    assert status == "succeeded"
    assert '"type":"run.completed"' in body and f'"run_id":"{run_id}"' in body
    delivery_ids = list(await runtime.db.run(lambda s: s.scalars(select(WebhookDelivery.id))))
    assert handed == [delivery_ids]  # handed over once, after the commit
