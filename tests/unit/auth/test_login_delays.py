"""Finding 4, pure logic: per-account delays grow (doubling, capped) past the free attempts."""

from __future__ import annotations

from netra.auth.throttle import LoginThrottle
from netra.core.cache import MemoryCache


def test_delays_double_from_the_base_and_stop_at_the_cap(make_settings) -> None:  # type: ignore[no-untyped-def]
    throttle = LoginThrottle(
        MemoryCache(),
        make_settings(login_max_failures=3, login_delay_base_s=1.0, login_delay_max_s=10.0),
    )
    assert [throttle.delay_s(n) for n in range(1, 10)] == [0, 0, 0, 1, 2, 4, 8, 10, 10]
    assert throttle.delay_s(10_000) == 10.0  # never a lock, never an overflow
