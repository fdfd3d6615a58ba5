"""Sign-in and sign-up throttling, shared by every replica through the runtime cache.

Each attempt *reserves* its place before the password is checked, so 200 parallel guesses
get at most the limit evaluated (the rest answer 429 at once):

- per client address (``login_ip_max_failures`` attempts per ``login_window_s``; a successful
  sign-in gives its place back);
- per account and address (``login_max_failures`` per window): a guesser's own hard stop;
- per account from anywhere: after ``login_max_failures`` attempts, growing delays (doubling
  from ``login_delay_base_s`` up to ``login_delay_max_s``) between attempts, never a lock: a
  stranger who only knows an e-mail address can slow that account's sign-in to one attempt
  per ``login_delay_max_s``, never stop it.

The account key is a hash of the submitted e-mail whether or not an account has it, so an
answer tells nothing about which addresses exist. Sign-ups are limited per address
(``register_ip_max`` per ``register_window_s``). Fails closed: when the counters cannot be
read, the attempt is refused with 503, never let through unthrottled.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from netra.core.cache import Cache
from netra.core.errors import DependencyUnavailable, RateLimited
from netra.core.settings import Settings

MESSAGE = "too many sign-in attempts; try again later"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Reservation:
    email: str
    ip: str | None


class LoginThrottle:
    def __init__(self, cache: Cache, settings: Settings) -> None:
        self.cache = cache
        self.window_s = settings.login_window_s
        self.max_account = settings.login_max_failures
        self.max_ip = settings.login_ip_max_failures
        self.delay_base_s = settings.login_delay_base_s
        self.delay_max_s = settings.login_delay_max_s
        self.register_max = settings.register_ip_max
        self.register_window_s = settings.register_window_s

    def delay_s(self, attempts: int) -> float:
        """The pause an account's attempt number ``attempts`` must keep after the previous
        one: none up to ``max_account``, then doubling, capped."""
        over = attempts - self.max_account
        if over <= 0:
            return 0.0
        return float(min(self.delay_max_s, self.delay_base_s * 2 ** min(over - 1, 30)))

    async def _refuse(self, key: str, message: str = MESSAGE) -> RateLimited:
        ttl = await self.cache.ttl(key)
        return RateLimited(message, retry_after_s=math.ceil(ttl) if ttl else self.window_s)

    async def reserve(self, email: str, ip: str | None) -> Reservation:
        """Take this attempt's place in every counter, or raise ``RateLimited``."""
        account = _hash(email)
        try:
            if ip:
                ip_key = f"login:ip:{ip}"
                if await self.cache.incr(ip_key, ttl_s=self.window_s) > self.max_ip:
                    raise await self._refuse(ip_key)
                pair_key = f"login:pair:{account}:{_hash(ip)}"
                if await self.cache.incr(pair_key, ttl_s=self.window_s) > self.max_account:
                    raise await self._refuse(pair_key)
            attempts = await self.cache.incr(f"login:acct:{account}", ttl_s=self.window_s)
            delay = self.delay_s(attempts)
            if delay > 0:
                gate = f"login:gate:{account}"
                # One attempt per delay for the account, whoever makes it.
                if not await self.cache.set_if_absent(gate, b"1", ttl_s=delay):
                    raise await self._refuse(gate)
        except RateLimited:
            raise
        except Exception as exc:
            raise DependencyUnavailable("sign-in throttle unavailable") from exc
        return Reservation(email, ip)

    async def succeeded(self, reservation: Reservation) -> None:
        account = _hash(reservation.email)
        keys = [f"login:acct:{account}", f"login:gate:{account}"]
        try:
            if reservation.ip:
                keys.append(f"login:pair:{account}:{_hash(reservation.ip)}")
                await self.cache.incr(f"login:ip:{reservation.ip}", ttl_s=self.window_s, by=-1)
            await self.cache.delete(*keys)
        except Exception as exc:
            raise DependencyUnavailable("sign-in throttle unavailable") from exc

    async def register(self, ip: str | None) -> None:
        """Count one sign-up from ``ip``; ``RateLimited`` past ``register_ip_max``."""
        await self.limit_address("register", ip)

    async def limit_address(self, action: str, ip: str | None) -> None:
        """Count one ``action`` (sign-up, password-reset request) from ``ip``; ``RateLimited``
        past ``register_ip_max`` per ``register_window_s``."""
        if not ip:
            return
        key = f"{action}:ip:{ip}"
        try:
            if await self.cache.incr(key, ttl_s=self.register_window_s) > self.register_max:
                raise await self._refuse(key, f"too many {action} requests from this address")
        except RateLimited:
            raise
        except Exception as exc:
            raise DependencyUnavailable("sign-up throttle unavailable") from exc
