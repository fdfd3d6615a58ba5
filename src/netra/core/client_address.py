"""The client's address: the TCP peer, or, only when that peer is a trusted proxy
(``NETRA_TRUSTED_PROXIES``), the nearest untrusted address of ``X-Forwarded-For``.

Anyone can send ``X-Forwarded-For``; honouring it from any peer would let a client pick the
address its throttles are keyed by. Read from the right: each trusted proxy appends the
address it received from, so the first untrusted address from the right is the one the
outermost trusted proxy saw.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_proxies(setting: str) -> tuple[Network, ...]:
    """``10.0.0.0/8, 192.168.1.7`` -> networks. A bad entry raises ``ValueError``."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in setting.split(",")
        if part.strip()
    )


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(
    peer: str | None, headers: Mapping[str, str], trusted_proxies: str
) -> str | None:
    proxies = parse_proxies(trusted_proxies) if trusted_proxies else ()
    if peer is None or not proxies or not _trusted(peer, proxies):
        return peer
    forwarded = [part.strip() for part in headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([f for f in forwarded if f]):
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a garbled header: key by the proxy rather than by its text
    return peer
