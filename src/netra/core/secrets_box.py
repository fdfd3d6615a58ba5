"""Secrets kept at rest encrypted (webhook signing secrets): Fernet (AES-128-CBC + HMAC) with the
key(s) of ``NETRA_SECRETS_KEY``.

The setting is a comma-separated list of Fernet keys: the first encrypts, every one decrypts
(rotation: put the new key first, keep the old one until re-encrypted). Development generates
a key into the data directory like the signing keys; staging and production refuse to start
without one. Stored values carry the prefix ``enc:v1:``; a value without it is a secret stored
before encryption existed and is read as it is.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from netra.core.errors import ConfigurationError, DependencyUnavailable
from netra.core.settings import Settings

PREFIX = "enc:v1:"


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("no key")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # stored in clear before encryption at rest
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            # A key was removed or the data changed: the operator must act; never guess.
            raise DependencyUnavailable(
                "a stored secret cannot be decrypted with the configured keys"
            ) from exc


def parse_keys(setting: str) -> list[str]:
    return [k.strip() for k in setting.split(",") if k.strip()]


def key_problem(setting: str | None) -> str | None:
    if not setting:
        return "is missing"
    try:
        SecretBox(parse_keys(setting))
    except (ValueError, TypeError):
        return "is not a comma-separated list of Fernet keys (32 url-safe base64 bytes each)"
    return None


@lru_cache(maxsize=8)
def _box(setting: str) -> SecretBox:
    return SecretBox(parse_keys(setting))


def secret_box(settings: Settings) -> SecretBox:
    setting = settings.secrets_key.get_secret_value() if settings.secrets_key else ""
    why = key_problem(setting)
    if why:
        raise ConfigurationError([f"NETRA_SECRETS_KEY {why}"])
    return _box(setting)


def new_key() -> str:
    return Fernet.generate_key().decode()
