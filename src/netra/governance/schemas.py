"""Request and response bodies of the governance routes (API.md "Limits, members, audit")."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from netra.core.inputs import Text


class InvitationIn(BaseModel):
    email: Text = Field(min_length=3, max_length=320)
    role: Text = Field(min_length=1, max_length=16)


class RoleIn(BaseModel):
    role: Text = Field(min_length=1, max_length=16)


class OrgDeleteIn(BaseModel):
    # The organisation's exact name: deleting everything takes more than one click.
    confirm: Text = Field(min_length=1, max_length=200)


class MemberOut(BaseModel):
    id: str
    email: str
    name: str | None = None
    role: str = Field(description="owner, admin, member or viewer")
    created_at: str | None = None
    last_login_at: str | None = None


class InvitationOut(BaseModel):
    id: str
    email: str
    role: str
    created_at: str | None = None
    expires_at: str | None = None


class InvitationCreated(InvitationOut):
    token: str = Field(description="for POST /auth/register {invitation}; shown this once")


class MemberList(BaseModel):
    members: list[MemberOut]
    invitations: list[InvitationOut]


class Actor(BaseModel):
    user_id: str | None = None
    email: str | None = None


class AuditEventOut(BaseModel):
    id: str
    created_at: str | None
    action: str
    outcome: str | None = None
    actor: Actor
    ip: str | None = None
    details: dict[str, Any]


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_after: str | None = Field(description="pass as ?after= for the next page")
