"""U10: dependencies start in order, stop in reverse; required down fails, optional degrades."""

from __future__ import annotations

import pytest

from netra.core.lifecycle import Degraded, Dependency, Lifecycle, StartupError


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


async def test_a_check_that_degrades_or_a_non_essential_one_down_keeps_readiness() -> None:
    async def fallback() -> None:
        raise Degraded("using the cached keys")

    async def gone() -> None:
        raise ConnectionError("redis went away")

    lc = Lifecycle()
    lc.add(Dependency("jwks", check=fallback))  # required, but working on a fallback
    lc.add(Dependency("redis", check=gone, essential=False))
    ready, states = await lc.readiness()
    assert ready
    assert states["jwks"]["status"] == "degraded" and "cached" in states["jwks"]["error"]
    assert states["redis"]["status"] == "down"


async def test_optional_services_report_degraded_not_unavailable() -> None:
    from netra.agents.component import llm_health
    from netra.agents.llm.offline import OfflineWriter
    from netra.agents.llm.resilient import ResilientWriter
    from netra.auth.component import jwks_health
    from netra.auth.keys import KeyMaterial
    from netra.core.resilience import CircuitBreaker

    breaker = CircuitBreaker("llm", failure_threshold=2, reset_timeout_s=60)
    writer = ResilientWriter(OfflineWriter(), OfflineWriter(), breaker)
    await llm_health(writer)  # closed: up
    breaker.record_failure()
    breaker.record_failure()
    with pytest.raises(Degraded, match="offline writer"):
        await llm_health(writer)

    # Keys cached, the auth service away: degraded; no keys at all: down.
    cached = KeyMaterial("RS256", None, ["a-cached-key"], jwks_url="http://127.0.0.1:9/jwks")  # type: ignore[list-item]
    with pytest.raises(Degraded, match="cached keys"):
        await jwks_health(cached)
    empty = KeyMaterial("RS256", None, [], jwks_url="http://127.0.0.1:9/jwks")
    with pytest.raises(Exception) as no_keys:
        await jwks_health(empty)
    assert not isinstance(no_keys.value, Degraded)
