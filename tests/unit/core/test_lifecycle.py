"""U10: dependencies start in order, stop in reverse; required down fails, optional degrades."""

from __future__ import annotations

import pytest

from netra.core.lifecycle import Dependency, Lifecycle, StartupError


def recorder(
    log: list[str], name: str, *, fail_check: bool = False, required: bool = True
) -> Dependency:
    async def start() -> None:
        log.append(f"start {name}")

    async def stop() -> None:
        log.append(f"stop {name}")

    async def check() -> None:
        if fail_check:
            raise ConnectionRefusedError(f"{name} refused")

    return Dependency(name, check=check, start=start, stop=stop, required=required,
                      describe=f"{name}://here")  # fmt: skip


async def test_started_in_order_and_stopped_in_reverse() -> None:
    log: list[str] = []
    lc = Lifecycle([recorder(log, n) for n in ("database", "redis", "worker")])
    await lc.start()
    await lc.stop()
    assert log == [
        "start database", "start redis", "start worker",
        "stop worker", "stop redis", "stop database",
    ]  # fmt: skip


async def test_required_dependency_down_fails_with_its_name_and_unwinds() -> None:
    log: list[str] = []
    lc = Lifecycle([recorder(log, "database"), recorder(log, "redis", fail_check=True),
                    recorder(log, "worker")])  # fmt: skip
    with pytest.raises(StartupError, match=r"'redis' at redis://here is unavailable.*refused"):
        await lc.start()
    assert log == ["start database", "start redis", "stop database"]


async def test_optional_dependency_down_gives_degraded_readiness() -> None:
    log: list[str] = []
    lc = Lifecycle([recorder(log, "database"),
                    recorder(log, "llm", fail_check=True, required=False)])  # fmt: skip
    await lc.start()
    ready, states = await lc.readiness()
    assert ready is True
    assert states["database"]["status"] == "up"
    assert states["llm"]["status"] == "down" and "refused" in states["llm"]["error"]
    await lc.stop()


async def test_required_dependency_down_later_makes_readiness_false() -> None:
    flaky = {"down": False}

    async def check() -> None:
        if flaky["down"]:
            raise OSError("gone")

    lc = Lifecycle([Dependency("database", check=check)])
    await lc.start()
    assert (await lc.readiness())[0] is True
    flaky["down"] = True
    ready, states = await lc.readiness()
    assert ready is False and states["database"]["status"] == "down"
    flaky["down"] = False
    assert (await lc.readiness())[0] is True
