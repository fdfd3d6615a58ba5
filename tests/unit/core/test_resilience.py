"""U4: circuit breaker states, retries only on transient errors with back-off, classification."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from netra.core.resilience import (
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
    PermanentError,
    TransientError,
    classify,
    is_transient,
    retry_async,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _status_error(code: int) -> httpx.HTTPStatusError:
    req = httpx.Request("POST", "http://llm.test/v1/chat/completions")
    return httpx.HTTPStatusError("boom", request=req, response=httpx.Response(code, request=req))


async def _fail() -> None:
    raise TransientError("down")


async def _ok() -> str:
    return "ok"


async def test_breaker_opens_after_threshold_and_refuses_without_calling() -> None:
    clock = Clock()
    breaker = CircuitBreaker("llm", failure_threshold=3, reset_timeout_s=10, clock=clock)
    for i in range(3):
        assert breaker.state is CircuitState.CLOSED, i
        with pytest.raises(TransientError):
            await breaker.call(_fail)
    assert breaker.state is CircuitState.OPEN
    called = False

    async def spy() -> str:
        nonlocal called
        called = True
        return "x"

    with pytest.raises(CircuitOpen) as err:
        await breaker.call(spy)
    assert not called
    assert err.value.code == "dependency_unavailable"
    assert 0 < err.value.retry_after_s <= 10


async def test_success_resets_the_consecutive_failure_count() -> None:
    breaker = CircuitBreaker("x", failure_threshold=2, clock=Clock())
    with pytest.raises(TransientError):
        await breaker.call(_fail)
    assert await breaker.call(_ok) == "ok"
    with pytest.raises(TransientError):
        await breaker.call(_fail)
    assert breaker.state is CircuitState.CLOSED  # 1 failure since the success, not 2


async def test_half_open_after_timeout_then_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker("llm", failure_threshold=1, reset_timeout_s=10, clock=clock)
    with pytest.raises(TransientError):
        await breaker.call(_fail)
    clock.now += 9.9
    assert breaker.state is CircuitState.OPEN
    clock.now += 0.2
    assert breaker.state is CircuitState.HALF_OPEN
    assert await breaker.call(_ok) == "ok"
    assert breaker.state is CircuitState.CLOSED
    assert breaker.failures == 0


async def test_half_open_failure_reopens_and_restarts_the_timer() -> None:
    clock = Clock()
    breaker = CircuitBreaker("llm", failure_threshold=2, reset_timeout_s=5, clock=clock)
    for _ in range(2):
        with pytest.raises(TransientError):
            await breaker.call(_fail)
    clock.now += 5
    assert breaker.state is CircuitState.HALF_OPEN
    with pytest.raises(TransientError):
        await breaker.call(_fail)  # one trial failure is enough to reopen
    assert breaker.state is CircuitState.OPEN
    clock.now += 4
    assert breaker.state is CircuitState.OPEN
    clock.now += 1
    assert breaker.state is CircuitState.HALF_OPEN


async def test_half_open_lets_only_one_trial_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker("llm", failure_threshold=1, reset_timeout_s=1, clock=clock)
    with pytest.raises(TransientError):
        await breaker.call(_fail)
    clock.now += 1
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "done"

    trial = asyncio.ensure_future(breaker.call(slow))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpen):
        await breaker.call(_ok)
    gate.set()
    assert await trial == "done"
    assert breaker.state is CircuitState.CLOSED


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (httpx.ReadTimeout("slow"), True),
        (httpx.ConnectError("refused"), True),
        (httpx.RemoteProtocolError("cut"), True),
        (_status_error(429), True),
        (_status_error(500), True),
        (_status_error(503), True),
        (_status_error(400), False),
        (_status_error(401), False),
        (_status_error(404), False),
        (httpx.UnsupportedProtocol("ftp"), False),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (TransientError("x"), True),
        (PermanentError("x"), False),
        (CircuitOpen("llm", 3.0), False),
        (ValueError("bug"), False),
        (KeyError("bug"), False),
    ],
)
def test_error_classification(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient
    assert classify(exc) == ("transient" if transient else "permanent")


def test_an_error_may_mark_itself() -> None:
    class Marked(Exception):
        transient = True

    assert is_transient(Marked())


async def test_retry_backs_off_on_transient_errors_then_succeeds() -> None:
    sleeps: list[float] = []
    attempts = 0

    async def sleep(s: float) -> None:
        sleeps.append(s)

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 4:
            raise _status_error(503)
        return "ok"

    result = await retry_async(flaky, attempts=5, base_delay_s=0.1, max_delay_s=10, sleep=sleep)
    assert result == "ok" and attempts == 4
    assert len(sleeps) == 3
    # Exponential back-off (jitter adds at most base_delay_s to each wait).
    assert 0.1 <= sleeps[0] <= 0.2 + 1e-9
    assert 0.2 <= sleeps[1] <= 0.3 + 1e-9
    assert 0.4 <= sleeps[2] <= 0.5 + 1e-9


async def test_retry_gives_up_after_the_last_attempt_with_the_last_error() -> None:
    attempts = 0

    async def sleep(s: float) -> None:
        return None

    async def down() -> None:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError(f"refused {attempts}")

    with pytest.raises(httpx.ConnectError, match="refused 3"):
        await retry_async(down, attempts=3, sleep=sleep)
    assert attempts == 3


async def test_no_retry_on_permanent_errors() -> None:
    attempts = 0
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    async def bad_request() -> None:
        nonlocal attempts
        attempts += 1
        raise _status_error(400)

    with pytest.raises(httpx.HTTPStatusError):
        await retry_async(bad_request, attempts=5, sleep=sleep)
    assert attempts == 1 and sleeps == []


async def test_no_retry_into_an_open_circuit() -> None:
    clock = Clock()
    breaker = CircuitBreaker("llm", failure_threshold=2, reset_timeout_s=60, clock=clock)
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise TransientError("down")

    async def sleep(s: float) -> None:
        return None

    with pytest.raises(CircuitOpen):
        await retry_async(lambda: breaker.call(down), attempts=10, sleep=sleep)
    assert calls == 2  # the third attempt hit the open breaker and stopped the retries
