"""``/api/v1``: members and invitations, the audit log, the organisation's export and deletion.

| endpoint | permission (auth/roles.py) |
|---|---|
| ``GET /api/v1/members`` | ``members:read`` (every role) |
| ``POST /api/v1/invitations``, ``DELETE /api/v1/invitations/{id}`` | ``members:write`` |
| ``PATCH``, ``DELETE /api/v1/members/{id}`` | ``members:write`` (owners: ``members:owner``) |
| ``GET /api/v1/audit?after&limit`` | ``audit:read`` (owner, admin) |
| ``GET /api/v1/org/export`` | ``org:export`` (owner) |
| ``DELETE /api/v1/org`` ``{confirm: <org name>}`` | ``org:delete`` (owner) |
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from netra.auth.api_keys import publish_key_revocation
from netra.auth.deps import require
from netra.auth.models import ApiKey, Organisation
from netra.auth.revocation import deny_user_tokens_in, publish_revocation
from netra.core.audit import record_audit, request_ip
from netra.core.context import UserContext
from netra.core.db import after_commit
from netra.core.deps import RuntimeDep, SessionDep
from netra.core.errors import NotFound, ValidationFailed
from netra.core.inputs import PathId
from netra.core.openapi import responses
from netra.governance import members
from netra.governance.audit_log import MAX_PAGE, audit_page
from netra.governance.invitation_mail import send_invitation
from netra.governance.org_data import delete_org_rows, export_lines, member_ids
from netra.governance.schemas import (
    AuditPage,
    InvitationCreated,
    InvitationIn,
    MemberList,
    MemberOut,
    OrgDeleteIn,
    RoleIn,
)

log = structlog.get_logger("netra.governance")

router = APIRouter(prefix="/api/v1", tags=["governance"])


MembersReader = Annotated[UserContext, require("members:read")]
MembersWriter = Annotated[UserContext, require("members:write")]
AuditReader = Annotated[UserContext, require("audit:read")]
Exporter = Annotated[UserContext, require("org:export")]
Deleter = Annotated[UserContext, require("org:delete")]


@router.get("/members", response_model=MemberList)
async def list_members(session: SessionDep, user: MembersReader) -> dict[str, Any]:
    return await members.list_members(session, user)


@router.post(
    "/invitations", status_code=201, response_model=InvitationCreated, responses=responses(409)
)
async def create_invitation(
    body: InvitationIn,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: MembersWriter,
) -> dict[str, Any]:
    invitation, token = await members.invite(
        session, user, runtime.settings, email=body.email, role=body.role, ip=request_ip(request)
    )
    out = {**members.invitation_out(invitation), "token": token}

    async def mail() -> None:
        await send_invitation(runtime, invitation, token)

    after_commit(session, mail)
    return out


@router.delete("/invitations/{invitation_id}", status_code=204, responses=responses(404))
async def cancel_invitation(
    invitation_id: PathId, request: Request, session: SessionDep, user: MembersWriter
) -> Response:
    await members.cancel_invitation(session, user, invitation_id, ip=request_ip(request))
    return Response(status_code=204)


@router.patch("/members/{member_id}", response_model=MemberOut, responses=responses(404, 409))
async def change_role(
    member_id: PathId,
    body: RoleIn,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: MembersWriter,
) -> dict[str, Any]:
    changed = await members.change_role(
        session, user, runtime.settings, runtime.bus, member_id, body.role, ip=request_ip(request)
    )
    return members.member_out(changed)


@router.delete("/members/{member_id}", status_code=204, responses=responses(404, 409))
async def remove_member(
    member_id: PathId,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: MembersWriter,
) -> Response:
    await members.remove_member(
        session, user, runtime.settings, runtime.bus, member_id, ip=request_ip(request)
    )
    return Response(status_code=204)


@router.get("/audit", response_model=AuditPage)
async def audit(
    session: SessionDep,
    user: AuditReader,
    after: str | None = Query(None, max_length=100, description="RFC 3339 time or next_after"),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
) -> dict[str, Any]:
    return await audit_page(session, user.org_id, after, limit)


@router.get(
    "/org/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "every row of the organisation, one JSON object per line",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
async def export_org(request: Request, runtime: RuntimeDep, user: Exporter) -> StreamingResponse:
    async with runtime.db.unit_of_work() as session:
        record_audit(session, "org.export", org_id=user.org_id, user_id=user.user_id,
                     ip=request_ip(request))  # fmt: skip
    return StreamingResponse(
        export_lines(runtime.db, user.org_id),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="netra-{user.org_id}.jsonl"'},
    )


@router.delete("/org", status_code=204, responses=responses(404))
async def delete_org(
    body: OrgDeleteIn,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: Deleter,
) -> Response:
    """Delete the organisation and everything it holds, in one transaction; every member's
    tokens are revoked in it and their sockets closed after it."""
    org = await session.get(Organisation, user.org_id, with_for_update=True)
    if org is None:
        raise NotFound("organisation not found")
    if body.confirm != org.name:
        raise ValidationFailed(
            "confirm must be the organisation's exact name", details={"field": "confirm"}
        )
    people = await member_ids(session, user.org_id)
    keys = list(
        (await session.execute(select(ApiKey.id).where(ApiKey.org_id == user.org_id))).scalars()
    )
    counts = await delete_org_rows(session, user.org_id)
    for person in people:
        deny_user_tokens_in(session, person, runtime.settings.access_token_ttl_s)

    async def fan_out() -> None:
        # Deleted keys and members' tokens stop working at once on every replica.
        for key_id in keys:
            await publish_key_revocation(runtime.bus, key_id)
        for person in people:
            await publish_revocation(runtime.bus, user_id=person, all=True)

    after_commit(session, fan_out)
    # Nothing of the organisation stays in the database, its audit log included: the record
    # of the deletion is this log line (operators' logs), with no content of the data.
    log.info("organisation deleted", org_id=user.org_id, by=user.user_id,
             ip=request_ip(request), rows=counts)  # fmt: skip
    return Response(status_code=204)
