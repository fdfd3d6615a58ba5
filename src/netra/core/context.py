"""The immutable execution context of one caller (a user or an API key): who, in which
organisation, on which tier.

Built once per request, connection or run and passed down explicitly: no globals, no per-user
singletons. ``derive`` makes a new context (for example with a run id), never mutates one.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Literal

PrincipalKind = Literal["user", "api_key"]


@dataclass(frozen=True, slots=True)
class UserContext:
    user_id: str
    org_id: str
    tier: str
    role: str
    permissions: frozenset[str] = frozenset()
    token_id: str | None = None  # the access token's jti
    token_exp: int | None = None  # its expiry (Unix seconds)
    session_id: str | None = None  # the sign-in session (refresh family) the token came from
    connection_id: str | None = None
    run_id: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Who authenticated: a person's access token, or an organisation's API key (then
    # ``user_id`` is the key's id and ``permissions`` are its scopes).
    kind: PrincipalKind = "user"

    def derive(self, **changes: object) -> UserContext:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def can(self, permission: str) -> bool:
        return permission in self.permissions
