"""Where a webhook may point (server-side request forgery rules).

In every environment a webhook may not reach a loopback, private, link-local or otherwise
internal address, including IPv4 addresses wrapped in IPv6 (IPv4-mapped, NAT64
``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4 ``2002::/16``, Teredo). Outside development and
test only https is accepted. ``NETRA_WEBHOOK_ALLOW_LOOPBACK`` lets development and test reach
receivers on loopback (and only loopback); it is refused in staging and production.

Checked when the webhook is created and again before each delivery, because a name may
resolve elsewhere later. The error never says what a name resolved to (an attacker must not
learn the internal network through it).
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
NOT_ALLOWED = "url host is not an allowed webhook destination"

_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


async def resolve_host(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _bad(message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"field": "url"})


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to an IPv4 host, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64_LOCAL:
        # RFC 6052 /48 layout: IPv4 bits 0-15 at 48-63, bits 16-31 at 72-87 (64-71 is "u").
        raw = int(ip).to_bytes(16, "big")
        return ipaddress.IPv4Address(raw[6:8] + raw[9:11])
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    return None


def _unwrap(address: str) -> list[IP]:
    ip: IP = ipaddress.ip_address(address.split("%", 1)[0])
    found: list[IP] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            found.append(inner)
    return found


def is_internal(address: str) -> bool:
    """True when the address, or an IPv4 address it wraps, is not a public unicast one."""
    for ip in _unwrap(address):
        if not ip.is_global or ip.is_multicast:
            return True
        if isinstance(ip, ipaddress.IPv6Address) and ip in _NAT64_LOCAL:
            return True  # a local-use translator: never a public destination
    return False


def is_loopback(address: str) -> bool:
    ips = _unwrap(address)
    return ips[-1].is_loopback


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
    answer could differ).
    """
    scheme, host, port = check_syntax(url)
    if scheme != "https" and not settings.is_dev:
        raise _bad("url must use https")
    try:
        addresses = [host] if _is_ip(host) else await resolve(host, port)
    except OSError as exc:
        raise _bad(NOT_ALLOWED) from exc
    if not addresses:
        raise _bad(NOT_ALLOWED)
    loopback_ok = settings.is_dev and settings.webhook_allow_loopback
    for address in addresses:
        if is_internal(address) and not (loopback_ok and is_loopback(address)):
            raise _bad(NOT_ALLOWED)
    return addresses


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
