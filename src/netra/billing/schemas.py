"""Request and response bodies of the budgets and webhooks endpoints."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from netra.core.inputs import Text

EVENT_TYPES: tuple[str, ...] = ("analysis.completed", "run.completed", "budget.alert")

Period = Literal["day", "month"]

MAX_SCOPE_NAME = 200
MAX_LIMIT_USD = 1e12


def parse_scope(scope: str) -> tuple[str, str | None]:
    """``"org"`` -> ("org", None); ``"feature:x"`` -> ("feature", "x"); same for ``model:``.

    Raises ValueError with a message for the caller.
    """
    if scope == "org":
        return "org", None
    kind, sep, name = scope.partition(":")
    if not sep or kind not in ("feature", "model"):
        raise ValueError("scope must be 'org', 'feature:<name>' or 'model:<name>'")
    if not name.strip():
        raise ValueError(f"scope '{kind}:' needs a {kind} name after the colon")
    if len(name) > MAX_SCOPE_NAME:
        raise ValueError(f"scope name is longer than {MAX_SCOPE_NAME} characters")
    return kind, name


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Text = Field(
        min_length=1,
        max_length=MAX_SCOPE_NAME + 8,
        pattern=r"^(org|feature:.+|model:.+)$",
        examples=["org", "feature:search", "model:gpt-4o"],
    )
    period: Period
    limit_usd: float = Field(gt=0, le=MAX_LIMIT_USD)

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        parse_scope(value)
        return value

    @field_validator("limit_usd")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("limit_usd must be a finite number")
        return value


class Window(BaseModel):
    start: datetime
    end: datetime


class BudgetOut(BaseModel):
    id: str
    scope: Text = Field(
        min_length=1,
        max_length=MAX_SCOPE_NAME + 8,
        pattern=r"^(org|feature:.+|model:.+)$",
        examples=["org", "feature:search", "model:gpt-4o"],
    )
    period: Period
    limit_usd: float
    created_at: datetime
    window: Window
    spend_usd: float
    used_pct: float
    unpriced_records: int
    alerted_thresholds: list[int]


class BudgetList(BaseModel):
    budgets: list[BudgetOut]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Text = Field(min_length=1, max_length=2048)
    events: list[Text] = Field(min_length=1, max_length=len(EVENT_TYPES) * 4)

    @field_validator("events")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e not in EVENT_TYPES]
        if unknown:
            raise ValueError(
                f"unknown event(s): {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
            )
        return sorted(set(value), key=EVENT_TYPES.index)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
