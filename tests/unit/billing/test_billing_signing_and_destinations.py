"""Billing: webhook signatures and where a webhook may point (SSRF rules per environment)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from netra.billing.destinations import check_destination, is_internal
from netra.billing.signing import new_secret, sign, verify
from netra.core.errors import ValidationFailed


def test_signature_is_hmac_sha256_of_timestamp_and_raw_body() -> None:
    secret = new_secret()
    body = b'{"id":"e1","type":"run.completed"}'
    t = 1_800_000_000
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    header = f"t={t},sha256={expected}"
    assert sign(secret, body, t) == header
    assert verify(secret, body, header, now=t + 10)
    assert not verify(secret, body + b" ", header, now=t)
    assert not verify(new_secret(), body, header, now=t)
    assert not verify(secret, body, expected, now=t)  # the t= and sha256= parts are the format
    assert not verify(secret, body, None, now=t)


def test_secrets_are_unique_and_long() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(s) >= 40 for s in secrets)


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("name does not resolve")
        return table[host]

    return resolve


async def _refused(url: str, settings, resolve=None) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as info:
        if resolve is None:
            await check_destination(url, settings)
        else:
            await check_destination(url, settings, resolve)
    assert info.value.details == {"field": "url"}
    return info.value.message


async def test_development_and_test_allow_loopback_http(make_settings) -> None:  # type: ignore[no-untyped-def]
    for env in ("development", "test"):
        settings = make_settings(env=env)
        await check_destination("http://127.0.0.1:9999/hook", settings)
        await check_destination("http://localhost/hook", settings)


async def test_every_environment_refuses_other_schemes_and_credentials(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(env="test")
    assert "http or https" in await _refused("ftp://example.com/x", settings)
    assert "http or https" in await _refused("file:///etc/passwd", settings)
    assert "no host" in await _refused("https:///path", settings)
    assert "credentials" in await _refused("https://user:pw@example.com/", settings)
    assert "not valid" in await _refused("https://example.com:99999/", settings)


async def test_production_refuses_plain_http_and_internal_addresses(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(env="production")
    resolve = _resolver(
        {
            "hooks.example.com": ["93.184.216.34"],
            "internal.example.com": ["10.1.2.3"],
            "mixed.example.com": ["93.184.216.34", "192.168.0.10"],
            "localhost": ["127.0.0.1", "::1"],
        }
    )
    await check_destination("https://hooks.example.com/netra", settings, resolve)
    assert "https" in await _refused("http://hooks.example.com/netra", settings, resolve)
    for url in (
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.5/x",
        "https://[::ffff:10.0.0.5]/x",
        "https://localhost/x",
        "https://internal.example.com/x",
        "https://mixed.example.com/x",  # one internal address is enough to refuse
    ):
        assert "not an allowed" in await _refused(url, settings, resolve), url
    assert "not an allowed" in await _refused("https://nowhere.example/x", settings, resolve)


def test_internal_address_classes() -> None:
    for address in ("127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.1.1",
                    "100.64.0.1", "0.0.0.0", "::1", "fc00::1", "fe80::1", "224.0.0.1",
                    "::ffff:127.0.0.1"):  # fmt: skip
        assert is_internal(address), address
    for address in ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"):
        assert not is_internal(address), address
