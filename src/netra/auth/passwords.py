"""Passwords: argon2id hashes with configured parameters, and the sign-up policy.

Parameters come from settings (default: OWASP's minimum profile, 19 MiB, t=2, p=1). A hash made
with other parameters is re-made at the next successful login.
"""

from __future__ import annotations

import asyncio
import re
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from netra.auth.common_passwords import COMMON_PASSWORDS, COMMON_WORDS
from netra.core.errors import ValidationFailed
from netra.core.settings import Settings

MIN_LENGTH = 12
MAX_LENGTH = 256
# OWASP's floor for argon2id; configuration below it is refused outside development.
OWASP_MIN_MEMORY_KIB = 19456
OWASP_MIN_TIME_COST = 2


class Passwords:
    """Hash and verify with one argon2id profile."""

    def __init__(self, time_cost: int = 2, memory_kib: int = 19456, parallelism: int = 1) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # Verified against when the account does not exist, so that answering "wrong password"
        # and "no such account" costs the same time.
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        )

    def hash_sync(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify_sync(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; an absent hash costs one verification and fails."""
        try:
            matched = self.hasher.verify(password_hash or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    # argon2 is CPU-bound for tens of milliseconds and releases the GIL: keep it off the loop.
    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hash_sync, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.verify_sync, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True


_EDGE = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why ``password`` is refused at sign-up, or None."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    lowered = password.lower()
    core = _EDGE.sub("", lowered)  # "Password2024!" -> "password"
    if lowered in COMMON_PASSWORDS or core in COMMON_WORDS or core in COMMON_PASSWORDS:
        return "password is too common"
    if len(set(lowered)) < 4:
        return "password is too repetitive"
    if email:
        local = email.split("@", 1)[0].lower()
        if len(local) >= 4 and core in (local, local * 2):
            return "password must not be your e-mail address"
    return None


def check_password_policy(password: str, email: str | None = None) -> None:
    problem = password_problem(password, email)
    if problem is not None:
        raise ValidationFailed(problem, details={"field": "password"})
