"""Request bodies of the governance routes (answers are the plain dicts of API.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class InvitationIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    role: str = Field(min_length=1, max_length=16)


class RoleIn(BaseModel):
    role: str = Field(min_length=1, max_length=16)


class OrgDeleteIn(BaseModel):
    # The organisation's exact name: deleting everything takes more than one click.
    confirm: str = Field(min_length=1, max_length=200)
