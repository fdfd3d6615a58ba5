"""Roles and what each may do: the one table from role to permissions.

Tokens carry the permissions of the role at issue time (``perms``); every endpoint and every
WebSocket operation asks for one permission through ``require(...)`` / ``UserContext.can``.
A role change revokes the member's access tokens, so the next token (refresh) carries the new
permissions within seconds.
"""

from __future__ import annotations

ROLES: tuple[str, ...] = ("owner", "admin", "member", "viewer")

# Read-only: what every role may see of its organisation.
_READ = (
    "usage:read", "chat:read", "budgets:read", "webhooks:read", "members:read",
)  # fmt: skip
# A member works with the data: uploads, analyses, chat runs.
_WORK = ("usage:write", "analysis:run", "chat:use")
# An admin manages the organisation's settings and people (never its owners).
_ADMIN = (
    "budgets:write", "webhooks:write", "api_keys:write", "members:write", "audit:read", "org:admin",
)  # fmt: skip
# Only an owner exports or deletes the organisation, and appoints owners.
_OWNER = ("org:billing", "org:export", "org:delete", "members:owner")

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "owner": _READ + _WORK + _ADMIN + _OWNER,
    "admin": _READ + _WORK + _ADMIN,
    "member": _READ + _WORK,
    "viewer": _READ,
}

ALL_PERMISSIONS: frozenset[str] = frozenset(p for perms in ROLE_PERMISSIONS.values() for p in perms)


def permissions_for(role: str) -> list[str]:
    """The permissions of ``role``; an unknown role has none (fail closed)."""
    return list(ROLE_PERMISSIONS.get(role, ()))
