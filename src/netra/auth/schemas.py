"""Request and response bodies of the auth routes (API.md "Auth service")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from netra.core.inputs import Text


class RegisterIn(BaseModel):
    email: Text = Field(min_length=3, max_length=320)
    # The 12..256 policy is checked by the service, so the answer names the rule broken.
    password: Text = Field(min_length=1, max_length=1024)
    name: Text | None = Field(default=None, max_length=200)
    org_name: Text | None = Field(default=None, max_length=200)
    # An invitation token: join that organisation with the invited role instead of a new one.
    invitation: Text | None = Field(default=None, max_length=256)


class LoginIn(BaseModel):
    email: Text = Field(min_length=1, max_length=320)
    password: Text = Field(min_length=1, max_length=1024)


class RefreshIn(BaseModel):
    refresh_token: Text | None = Field(default=None, max_length=512)


class CodeIn(BaseModel):
    code: Text = Field(min_length=1, max_length=256)


class IntrospectIn(BaseModel):
    token: Text = Field(min_length=1, max_length=8192)


# ---- responses (API.md "Auth service") ------------------------------------------------------


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSJ9...",
                    "refresh_token": "rt_3f9c...",
                    "token_type": "bearer",
                    "expires_in": 900,
                }
            ]
        }
    )


class Profile(BaseModel):
    id: str
    email: str
    name: str | None = None
    org_id: str
    org_name: str
    tier: str
    role: str
    permissions: list[str]


class Registered(BaseModel):
    user: Profile


class Introspection(BaseModel):
    active: bool
    sub: str | None = None
    org_id: str | None = None
    tier: str | None = None
    role: str | None = None
    permissions: list[str] | None = None
    exp: int | None = None


class Jwks(BaseModel):
    model_config = ConfigDict(extra="allow")

    keys: list[dict[str, Any]]


class ServiceConfiguration(BaseModel):
    model_config = ConfigDict(extra="allow")

    issuer: str
    audience: str
    algorithm: str
    key_ids: list[str]
    access_token_ttl_s: int
    oauth_providers: list[str]
