"""Login throttling: failed sign-ins counted per account and per client address.

Counters live in the runtime cache (Redis when configured, so every replica shares them;
memory otherwise). The account key is a hash of the submitted e-mail whether or not an account
has it, so a locked answer tells nothing about which addresses exist. Fails closed: when the
counters cannot be read, sign-in is refused with 503, never let through unthrottled.
"""

from __future__ import annotations

import hashlib
import math

from netra.core.cache import Cache
from netra.core.errors import DependencyUnavailable, RateLimited
from netra.core.settings import Settings

MESSAGE = "too many failed sign-in attempts; try again later"


def _account_key(email: str) -> str:
    return "login:fail:acct:" + hashlib.sha256(email.encode()).hexdigest()[:40]


def _ip_key(ip: str) -> str:
    return "login:fail:ip:" + ip


class LoginThrottle:
    def __init__(self, cache: Cache, settings: Settings) -> None:
        self.cache = cache
        self.window_s = settings.login_window_s
        self.max_account = settings.login_max_failures
        self.max_ip = settings.login_ip_max_failures

    def _limits(self, email: str, ip: str | None) -> list[tuple[str, int]]:
        limits = [(_account_key(email), self.max_account)]
        if ip:
            limits.append((_ip_key(ip), self.max_ip))
        return limits

    async def check(self, email: str, ip: str | None) -> None:
        """Raise ``RateLimited`` (with the seconds to wait) when either counter is spent."""
        try:
            for key, limit in self._limits(email, ip):
                raw = await self.cache.get(key)
                if raw is not None and int(raw) >= limit:
                    ttl = await self.cache.ttl(key)
                    wait = math.ceil(ttl) if ttl is not None else self.window_s
                    raise RateLimited(MESSAGE, retry_after_s=wait)
        except RateLimited:
            raise
        except Exception as exc:
            raise DependencyUnavailable("sign-in throttle unavailable") from exc

    async def failed(self, email: str, ip: str | None) -> None:
        try:
            for key, _ in self._limits(email, ip):
                await self.cache.incr(key, ttl_s=self.window_s)
        except Exception as exc:
            raise DependencyUnavailable("sign-in throttle unavailable") from exc

    async def succeeded(self, email: str) -> None:
        try:
            await self.cache.delete(_account_key(email))
        except Exception as exc:
            raise DependencyUnavailable("sign-in throttle unavailable") from exc
