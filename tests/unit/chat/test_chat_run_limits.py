"""U9: a user_message past the tier's concurrency is refused with run_limit, per user and per
organisation, using the agent factory's profile for the caller's tier."""

from __future__ import annotations

from typing import Any

import pytest

from netra.chat import service
from netra.core.context import UserContext
from netra.core.errors import LimitReached
from netra.core.runtime import Runtime
from netra.tiers import limits_for


@pytest.fixture
def runtime_settings() -> dict[str, Any]:
    # Free tier: 1 concurrent run per user, 2 per organisation (the settings' defaults).
    return {"runs_free": 1, "runs_org_free": 2}


async def _ask(runtime: Runtime, user: str, org: str = "org-1") -> service.Ack:
    ctx = UserContext(user_id=user, org_id=org, tier="free", role="member")

    async def noop(job: dict[str, Any]) -> None:
        return None

    limits = limits_for(runtime.settings, ctx.tier)
    return await runtime.db.run(
        lambda s: service.submit_user_message(
            s, ctx, text="q", thread_id=None, frame_id=None, limits=limits, enqueue=noop
        )
    )


async def test_second_concurrent_run_of_a_free_user_is_refused(runtime: Runtime) -> None:
    await _ask(runtime, "alice")
    with pytest.raises(LimitReached) as refused:
        await _ask(runtime, "alice")
    assert refused.value.code == "run_limit"
    assert refused.value.details == {"scope": "user", "limit": 1}


async def test_the_organisation_limit_counts_every_member(runtime: Runtime) -> None:
    await _ask(runtime, "alice")
    await _ask(runtime, "bob")
    with pytest.raises(LimitReached) as refused:
        await _ask(runtime, "carol")  # her first run, but the org already has two
    assert refused.value.details == {"scope": "org", "limit": 2}
    await _ask(runtime, "dave", org="org-2")  # another organisation is not affected
