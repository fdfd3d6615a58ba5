"""Request bodies of the auth routes (responses are the plain dicts of API.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RegisterIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    # The 12..256 policy is checked by the service, so the answer names the rule broken.
    password: str = Field(min_length=1, max_length=1024)
    name: str | None = Field(default=None, max_length=200)
    org_name: str | None = Field(default=None, max_length=200)
    # An invitation token: join that organisation with the invited role instead of a new one.
    invitation: str | None = Field(default=None, max_length=256)


class LoginIn(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=512)


class CodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=256)


class IntrospectIn(BaseModel):
    token: str = Field(min_length=1, max_length=8192)
