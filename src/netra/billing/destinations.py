"""Where a webhook may point. Outside development and test: https only, and never at loopback,
private, link-local or otherwise internal addresses (server-side request forgery).

Checked when the webhook is created and again before each delivery, because a name may
resolve elsewhere later.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from netra.core.errors import ValidationFailed
from netra.core.settings import Settings

Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_LENGTH = 2048


async def resolve_host(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _bad(message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"field": "url"})


def is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_syntax(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute http(s) URL without credentials."""
    if len(url) > MAX_URL_LENGTH:
        raise _bad(f"url is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _bad(f"url is not valid: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _bad("url must use http or https")
    host = parts.hostname
    if not host:
        raise _bad("url has no host")
    if parts.username is not None or parts.password is not None:
        raise _bad("url must not carry credentials")
    return scheme, host, port or (443 if scheme == "https" else 80)


async def check_destination(
    url: str, settings: Settings, resolve: Resolver = resolve_host
) -> list[str]:
    """Raise :class:`ValidationFailed` (field ``url``) when ``url`` may not receive webhooks.

    Returns the addresses checked, for the caller to connect to exactly those (a second DNS
    answer could differ); empty in development and test, where nothing is checked.
    """
    scheme, host, port = check_syntax(url)
    if settings.is_dev:
        return []  # tests and local development run receivers on loopback
    if scheme != "https":
        raise _bad("url must use https")
    try:
        addresses = [host] if _is_ip(host) else await resolve(host, port)
    except OSError as exc:
        raise _bad(f"url host '{host}' does not resolve") from exc
    if not addresses:
        raise _bad(f"url host '{host}' does not resolve")
    for address in addresses:
        if is_internal(address):
            raise _bad(f"url host '{host}' is an internal address ({address})")
    return addresses


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
