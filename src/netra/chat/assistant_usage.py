"""``GET /api/v1/assistant/usage``: what Netra's own language-model calls cost the organisation.

Each run that a configured LLM drove stores its calls in its answer's metadata (``llm_usage``:
tokens, and cost at catalogue prices when the model is priced); this sums them over a period,
per model, so Netra is never a source of unexplained spend itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from netra.auth.deps import require
from netra.chat.models import Message
from netra.core.context import UserContext
from netra.core.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["chat"])


class ModelUsage(BaseModel):
    provider: str
    model: str
    runs: int
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None: the model is not in the price catalogue
    unpriced_runs: int


class AssistantUsage(BaseModel):
    start: datetime | None
    end: datetime | None
    runs: int
    cost_usd: float
    unpriced_runs: int
    by_model: list[ModelUsage]


def summarise(metas: list[dict[str, Any]]) -> tuple[int, float, int, list[ModelUsage]]:
    by: dict[tuple[str, str], dict[str, Any]] = {}
    for meta in metas:
        u = meta.get("llm_usage")
        if not isinstance(u, dict):
            continue
        key = (str(u.get("provider") or "?"), str(u.get("model") or "?"))
        row = by.setdefault(key, {"runs": 0, "calls": 0, "input_tokens": 0, "output_tokens": 0,
                                  "cost_usd": 0.0, "unpriced_runs": 0})  # fmt: skip
        row["runs"] += 1
        for field in ("calls", "input_tokens", "output_tokens"):
            row[field] += int(u.get(field) or 0)
        if isinstance(u.get("cost_usd"), int | float):
            row["cost_usd"] += float(u["cost_usd"])
        else:
            row["unpriced_runs"] += 1
    models = [
        ModelUsage(provider=p, model=m, **{**r, "cost_usd": round(r["cost_usd"], 6)
                                           if r["unpriced_runs"] < r["runs"] else None})
        for (p, m), r in sorted(by.items())
    ]  # fmt: skip
    runs = sum(m.runs for m in models)
    cost = round(sum(m.cost_usd or 0.0 for m in models), 6)
    return runs, cost, sum(m.unpriced_runs for m in models), models


@router.get("/assistant/usage", response_model=AssistantUsage,
            summary="Tokens and cost of Netra's own language-model calls")  # fmt: skip
async def assistant_usage(
    session: SessionDep,
    user: UserContext = require("usage:read"),
    start: datetime | None = Query(None, description="RFC 3339, inclusive"),
    end: datetime | None = Query(None, description="RFC 3339, exclusive"),
) -> AssistantUsage:
    stmt = select(Message.meta).where(Message.org_id == user.org_id, Message.role == "assistant")
    if start is not None:
        stmt = stmt.where(Message.created_at >= start)
    if end is not None:
        stmt = stmt.where(Message.created_at < end)
    metas = [m for m in (await session.execute(stmt)).scalars() if isinstance(m, dict)]
    runs, cost, unpriced, models = summarise(metas)
    return AssistantUsage(start=start, end=end, runs=runs, cost_usd=cost, unpriced_runs=unpriced,
                          by_model=models)  # fmt: skip
