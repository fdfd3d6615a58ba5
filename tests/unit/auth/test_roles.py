"""U18 (table side): one table from role to permissions, and every /api/v1 endpoint asks for
one of them (a new route without a permission fails here)."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from netra.apps.all_in_one import create_app
from netra.auth.roles import ALL_PERMISSIONS, ROLE_PERMISSIONS, ROLES, permissions_for

WRITES = {"usage:write", "analysis:run", "chat:use", "budgets:write", "webhooks:write",
          "api_keys:write", "members:write"}  # fmt: skip


def test_roles_are_nested_owner_admin_member_viewer() -> None:
    owner, admin, member, viewer = (set(permissions_for(r)) for r in ROLES)
    assert viewer < member < admin < owner
    assert not viewer & WRITES, "a viewer only reads"
    assert {"usage:write", "chat:use", "usage:read"} <= member
    assert not member & {"budgets:write", "webhooks:write", "api_keys:write", "members:write",
                         "audit:read"}  # fmt: skip
    assert owner - admin == {"org:billing", "org:export", "org:delete", "members:owner"}


def test_an_unknown_role_has_no_permission() -> None:
    assert permissions_for("root") == []
    assert permissions_for("") == []
    assert set(ROLE_PERMISSIONS) == set(ROLES)


def _permission_of(route: APIRoute) -> list[str]:
    found: list[str] = []

    def walk(dependant: Any) -> None:
        call = dependant.call
        if getattr(call, "__qualname__", "") == "require.<locals>.check":
            cells = dict(zip(call.__code__.co_freevars, call.__closure__ or (), strict=True))
            found.append(cells["permission"].cell_contents)
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    return found


def _flat(routes: list[Any]) -> list[Any]:
    """Routes of included routers too (FastAPI keeps them behind the router they came in)."""
    out: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out.extend(_flat(list(inner.routes)) if inner is not None else [route])
    return out


def test_every_api_route_requires_a_known_permission(make_settings: Any) -> None:
    app = create_app(make_settings())
    routes = [
        r for r in _flat(app.routes) if isinstance(r, APIRoute) and r.path.startswith("/api/v1")
    ]
    assert len(routes) >= 20
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if not _permission_of(r)]
    assert missing == []
    for route in routes:
        for permission in _permission_of(route):
            assert permission in ALL_PERMISSIONS, (route.path, permission)
