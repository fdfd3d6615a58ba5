"""U17: webhook signatures carry a signed timestamp (a stale or replayed one is refused) and
webhook secrets are encrypted at rest with NETRA_SECRETS_KEY."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from cryptography.fernet import Fernet

from netra.billing.signing import TOLERANCE_S, new_secret, sign, verify
from netra.core.errors import ConfigurationError, DependencyUnavailable
from netra.core.secrets_box import PREFIX, SecretBox, secret_box
from netra.core.settings import resolve_dev_secrets, validate_settings


def test_a_fresh_signature_verifies_and_a_stale_or_future_one_does_not() -> None:
    secret, body = new_secret(), b'{"id":"e1"}'
    now = time.time()
    assert verify(secret, body, sign(secret, body))
    assert verify(secret, body, sign(secret, body, int(now) - TOLERANCE_S + 5), now=now)
    assert not verify(secret, body, sign(secret, body, int(now) - TOLERANCE_S - 5), now=now)
    assert not verify(secret, body, sign(secret, body, int(now) + TOLERANCE_S + 5), now=now)


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    secret, body = new_secret(), b'{"id":"e1"}'
    old = sign(secret, body, 1_000)
    digest = old.split("sha256=")[1]
    replayed = f"t={int(time.time())},sha256={digest}"  # a captured body, a new timestamp
    assert not verify(secret, body, replayed)
    # A receiver written from the documentation (docs/webhooks.md) agrees with sign().
    t = int(time.time())
    mine = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert sign(secret, body, t) == f"t={t},sha256={mine}"


def test_malformed_headers_are_refused() -> None:
    secret, body = new_secret(), b"{}"
    for header in ("", "t=,sha256=", "sha256=abc", "t=123", "t=abc,sha256=00", "garbage"):
        assert not verify(secret, body, header), header


def test_secrets_are_sealed_and_opened_with_rotation() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = SecretBox([old]).seal("whsec_abc")
    assert sealed.startswith(PREFIX) and "whsec_abc" not in sealed
    assert SecretBox([new, old]).open(sealed) == "whsec_abc"  # rotation: old still reads
    assert SecretBox([new]).open(SecretBox([new, old]).seal("x")) == "x"  # first encrypts
    assert SecretBox([new]).open("whsec_legacy") == "whsec_legacy"  # stored before encryption
    with pytest.raises(DependencyUnavailable):
        SecretBox([new]).open(sealed)  # the key that sealed it is gone: never a guess


def test_the_key_is_generated_in_development_and_required_elsewhere(make_settings) -> None:  # type: ignore[no-untyped-def]
    dev = resolve_dev_secrets(make_settings(env="development", secrets_key=None))
    box = secret_box(dev)
    assert box.open(box.seal("s")) == "s"
    again = resolve_dev_secrets(
        make_settings(env="development", secrets_key=None)
    )  # the same file, same key
    assert again.secrets_key is not None and dev.secrets_key is not None
    assert again.secrets_key.get_secret_value() == dev.secrets_key.get_secret_value()
    production = make_settings(env="production", secrets_key=None)
    assert any("NETRA_SECRETS_KEY is missing" in p for p in validate_settings(production))
    with pytest.raises(ConfigurationError):
        secret_box(production)
    bad = make_settings(env="production", secrets_key="not-a-key")
    assert any("NETRA_SECRETS_KEY is not" in p for p in validate_settings(bad))
