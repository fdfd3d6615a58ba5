"""Typed wiring: a service is found by its typed key, and a missing one fails at start-up (the
app factory refuses the app), never in a request (issue 16, item 5)."""

from __future__ import annotations

from typing import Any

import pytest

from netra.agents import component as agents
from netra.apps import all_in_one, api, auth_service, worker
from netra.apps.factory import create_netra_app
from netra.chat import tasks as chat_tasks
from netra.core.component import Component
from netra.core.errors import ConfigurationError
from netra.core.lifecycle import StartupError
from netra.core.runtime import Runtime
from netra.core.services import MissingService, Service, Services, wiring_problems
from support.apps import running_app

NUMBER: Service[int] = Service("number")


def test_a_service_is_found_by_its_key_and_a_missing_one_named() -> None:
    services = Services()
    assert services.get(NUMBER) is None and NUMBER not in services
    services.provide(NUMBER, 42)
    assert services[NUMBER] == 42 and services.names() == ["number"]
    assert Service("number") not in services  # the key object, not its name, is the identity
    with pytest.raises(MissingService, match="'other'"):
        services[Service[str]("other")]


def test_a_need_nobody_provides_earlier_is_a_wiring_problem() -> None:
    user = Component("user", needs=(NUMBER,))
    giver = Component("giver", provides=(NUMBER,))
    assert wiring_problems([giver, user]) == []
    [problem] = wiring_problems([user, giver])
    assert "'user' needs service 'number'" in problem


def test_an_app_missing_a_dependency_is_refused_when_it_is_built(make_settings: Any) -> None:
    # The run worker needs the pipeline and what it is lent; without them: refused at once.
    with pytest.raises(ConfigurationError) as refused:
        create_netra_app(make_settings(), [], tasks=[chat_tasks.run_worker()], title="t")
    text = "\n".join(refused.value.problems)
    for name in ("agent_pipeline", "usage_record_loader", "report_store"):
        assert name in text
    with pytest.raises(ConfigurationError):
        create_netra_app(make_settings(), [agents.component()], tasks=[chat_tasks.run_worker()],
                         title="t")  # fmt: skip


@pytest.mark.parametrize("module", [all_in_one, api, auth_service, worker])
def test_every_shipped_app_is_wired(module: Any, make_settings: Any) -> None:
    module.create_app(make_settings())  # raises ConfigurationError when a need is unmet


async def test_a_component_that_does_not_provide_what_it_declares_fails_start_up(
    make_settings: Any,
) -> None:
    async def forgets(runtime: Runtime) -> None:
        return None

    app = create_netra_app(
        make_settings(), [Component("liar", start=forgets, provides=(NUMBER,))], title="t"
    )
    with pytest.raises(StartupError, match="'liar' did not provide"):
        async with running_app(app):
            pass
