"""Resilience for calls to optional or remote dependencies: error classes, retries, breakers.

- :func:`is_transient` decides whether an error may go away on its own (timeouts, dropped
  connections, 429 and 5xx answers) or will not (bad request, bad credentials, a bug).
- :func:`retry_async` retries with exponential back-off and jitter, only on transient errors.
- :class:`CircuitBreaker` stops calling a dependency that keeps failing: it opens after
  ``failure_threshold`` consecutive failures, lets a trial call through (half-open) once
  ``reset_timeout_s`` has passed, and closes again when the trial succeeds.

Generic on purpose: the LLM client uses them, and so can any outbound HTTP call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from netra.core.errors import DependencyUnavailable

T = TypeVar("T")

# Statuses a server may answer differently a moment later.
TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class TransientError(Exception):
    """Raise (or subclass) to mark a failure worth retrying."""


class PermanentError(Exception):
    """Raise (or subclass) to mark a failure that a retry cannot fix."""


class CircuitOpen(DependencyUnavailable):
    """The breaker refused the call: the dependency failed too often recently."""

    def __init__(self, name: str, retry_after_s: float) -> None:
        super().__init__(
            f"{name} is unavailable (circuit open)",
            details={"dependency": name, "retry_after_s": round(retry_after_s, 3)},
        )
        self.name = name
        self.retry_after_s = retry_after_s


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` may succeed on a retry. Unknown errors are permanent (fail fast)."""
    if isinstance(exc, CircuitOpen | PermanentError):
        return False
    if isinstance(exc, TransientError):
        return True
    marked = getattr(exc, "transient", None)
    if isinstance(marked, bool):
        return marked
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in TRANSIENT_HTTP_STATUSES
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return True
    if isinstance(exc, httpx.HTTPError):  # invalid URL, unsupported protocol...: configuration
        return False
    return isinstance(exc, TimeoutError | ConnectionError)


def classify(exc: BaseException) -> str:
    """``"transient"`` or ``"permanent"`` (for logs and run metadata)."""
    return "transient" if is_transient(exc) else "permanent"


async def retry_async(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int = 3,
    base_delay_s: float = 0.2,
    max_delay_s: float = 2.0,
    retry_on: Callable[[BaseException], bool] = is_transient,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Call ``call()`` up to ``attempts`` times, backing off between transient failures.

    A permanent error is raised at once; after the last attempt the last error is raised.
    """
    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential_jitter(multiplier=base_delay_s, max=max_delay_s, jitter=base_delay_s),
        retry=retry_if_exception(retry_on),
        reraise=True,
        sleep=sleep,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure circuit breaker, one per dependency per process.

    ``clock`` is injectable so tests can move time without sleeping.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        half_open_max_calls: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.half_open_max_calls = max(1, half_open_max_calls)
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trials = 0  # calls let through while half-open and not yet finished

    @property
    def state(self) -> CircuitState:
        if (
            self._state is CircuitState.OPEN
            and self._clock() - self._opened_at >= self.reset_timeout_s
        ):
            self._state = CircuitState.HALF_OPEN
            self._trials = 0
        return self._state

    @property
    def failures(self) -> int:
        return self._failures

    def retry_after_s(self) -> float:
        if self.state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self.reset_timeout_s - (self._clock() - self._opened_at))

    def acquire(self) -> None:
        """Ask to make one call; raises :class:`CircuitOpen` when refused."""
        state = self.state
        if state is CircuitState.OPEN:
            raise CircuitOpen(self.name, self.retry_after_s())
        if state is CircuitState.HALF_OPEN:
            if self._trials >= self.half_open_max_calls:
                raise CircuitOpen(self.name, self.reset_timeout_s)
            self._trials += 1

    def record_success(self) -> None:
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._trials = 0

    def record_failure(self) -> None:
        if self._state is CircuitState.HALF_OPEN:
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def _open(self) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = self._clock()
        self._trials = 0

    async def call(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call()`` through the breaker; every exception counts as a failure."""
        self.acquire()
        try:
            result = await call()
        except asyncio.CancelledError:
            # The caller gave up; say nothing about the dependency's health.
            if self._state is CircuitState.HALF_OPEN:
                self._trials = max(0, self._trials - 1)
            raise
        except Exception:
            self.record_failure()
            raise
        self.record_success()
        return result


__all__ = [
    "TRANSIENT_HTTP_STATUSES",
    "CircuitBreaker",
    "CircuitOpen",
    "CircuitState",
    "PermanentError",
    "TransientError",
    "classify",
    "is_transient",
    "retry_async",
]
