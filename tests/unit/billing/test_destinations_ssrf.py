"""Finding 9: the SSRF filter unwraps IPv4 carried in IPv6, applies in development too, and
never says what a name resolved to."""

from __future__ import annotations

import pytest

from netra.billing.destinations import NOT_ALLOWED, check_destination, embedded_ipv4, is_internal
from netra.core.errors import ValidationFailed

WRAPPED_INTERNAL = (
    "64:ff9b::7f00:1",  # NAT64 well-known prefix around 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # ... around 169.254.169.254 (cloud metadata)
    "64:ff9b::a00:5",  # ... around 10.0.0.5
    "64:ff9b:1:7f00:0:100::",  # NAT64 local-use /48 around 127.0.0.1
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 around 169.254.169.254
    "2002:c0a8:101::1",  # 6to4 around 192.168.1.1
    "::ffff:127.0.0.1",
)


def test_ipv4_wrapped_in_ipv6_is_unwrapped() -> None:
    import ipaddress

    assert str(embedded_ipv4(ipaddress.IPv6Address("64:ff9b::7f00:1"))) == "127.0.0.1"
    assert str(embedded_ipv4(ipaddress.IPv6Address("64:ff9b:1:7f00:0:100::"))) == "127.0.0.1"
    assert str(embedded_ipv4(ipaddress.IPv6Address("2002:a9fe:a9fe::"))) == "169.254.169.254"
    for address in WRAPPED_INTERNAL:
        assert is_internal(address), address
    # A public IPv4 behind the well-known NAT64 prefix or 6to4 is a public destination.
    assert not is_internal("64:ff9b::808:808")
    assert not is_internal("2002:808:808::1")


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("name does not resolve")
        return table[host]

    return resolve


async def _message(url: str, settings, resolve) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as info:
        await check_destination(url, settings, resolve)
    return info.value.message


@pytest.mark.parametrize("env", ["development", "test", "production"])
async def test_names_resolving_to_wrapped_internal_addresses_are_refused(
    make_settings, env: str
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(env=env, webhook_allow_loopback=False)
    table = {f"h{i}.example.com": [a] for i, a in enumerate(WRAPPED_INTERNAL)}
    resolve = _resolver(table)
    for host, (address,) in table.items():
        message = await _message(f"https://{host}/hook", settings, resolve)
        # Generic: neither the address nor that the name resolved at all is revealed.
        assert message == NOT_ALLOWED
        assert address not in message and "127.0.0.1" not in message
    assert await _message("https://unknown.example/x", settings, resolve) == NOT_ALLOWED


async def test_development_refuses_loopback_unless_the_setting_allows_it(make_settings) -> None:  # type: ignore[no-untyped-def]
    resolve = _resolver({"localhost": ["127.0.0.1", "::1"], "intranet": ["10.0.0.7"]})
    strict = make_settings(env="development", webhook_allow_loopback=False)
    assert await _message("http://localhost:9000/h", strict, resolve) == NOT_ALLOWED
    assert await _message("http://127.0.0.1:9000/h", strict, resolve) == NOT_ALLOWED
    relaxed = make_settings(env="development", webhook_allow_loopback=True)
    assert await check_destination("http://localhost:9000/h", relaxed, resolve) == [
        "127.0.0.1",
        "::1",
    ]
    # The setting opens loopback only: private networks stay refused.
    assert await _message("http://intranet/h", relaxed, resolve) == NOT_ALLOWED
    assert await _message("http://[64:ff9b::a00:7]/h", relaxed, resolve) == NOT_ALLOWED


def test_loopback_setting_is_refused_in_production(make_settings) -> None:  # type: ignore[no-untyped-def]
    from netra.core.settings import validate_settings

    problems = validate_settings(make_settings(env="production", webhook_allow_loopback=True))
    assert any("NETRA_WEBHOOK_ALLOW_LOOPBACK" in p for p in problems)
