"""HTTP endpoints of the reports domain (API.md "Backend"): the usage summary and analyses."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from netra.auth.deps import require
from netra.core.context import UserContext
from netra.core.deps import RuntimeDep, SessionDep
from netra.core.errors import NotFound, ValidationFailed
from netra.core.inputs import PathId
from netra.core.openapi import responses
from netra.reports import service
from netra.reports.schemas import AnalysisReport, AnalysisRequest, Summary
from netra.usage.parse import parse_timestamp

router = APIRouter(prefix="/api/v1", tags=["reports"])


def _when(field: str, value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    date, sep, time = value.strip().partition("T")
    if sep and " " in time:
        # An unencoded "+" of a UTC offset arrives as a space in a query string.
        value = f"{date}T{time.replace(' ', '+')}"
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ValidationFailed(
            f"{field}: {exc}", details={"field": field, "message": str(exc)}
        ) from None


def _period(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    begin, finish = _when("start", start), _when("end", end)
    if begin is not None and finish is not None and finish <= begin:
        raise ValidationFailed(
            "end must be after start", details={"field": "end", "message": "not after start"}
        )
    return begin, finish


@router.get("/usage/summary", summary="Usage totals per group", response_model=Summary)
async def usage_summary(
    runtime: RuntimeDep,
    user: UserContext = require("usage:read", api_key=True),
    group_by: Literal["model", "provider", "feature", "user", "day"] = Query("model"),
    start: str | None = Query(None, description="RFC 3339 / ISO 8601 or Unix seconds"),
    end: str | None = Query(None, description="exclusive"),
    split_by: Literal["model", "provider", "feature", "user"] | None = Query(
        None,
        description="also split each group by this dimension: every group gets `split`, its "
        "totals per value (e.g. group_by=day&split_by=model: daily spend stacked by model)",
    ),
) -> JSONResponse:
    begin, finish = _period(start, end)
    if split_by is not None and split_by == group_by:
        raise ValidationFailed(
            "split_by must differ from group_by",
            details={"field": "split_by", "message": "same dimension as group_by"},
        )
    groups, how = await service.summary_for(runtime, user.org_id, group_by, begin, finish, split_by)
    body = {
        "group_by": group_by,
        "split_by": split_by,
        "period": {"start": _iso(begin), "end": _iso(finish)},
        "groups": groups,
    }
    return JSONResponse(body, headers={"X-Cache": how})


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@router.post(
    "/analyses",
    status_code=201,
    summary="Analyse the org's usage and store the report",
    description=(
        "Limits per tier: analyses per organisation and minute (429 with Retry-After), records "
        "in the period (403: narrow start/end). Asking again while the data and the period are "
        "unchanged answers the report already stored (same id), with no new webhook event."
    ),
    response_model=AnalysisReport,
    responses=responses(403, 429),
)
async def create_analysis(
    runtime: RuntimeDep,
    session: SessionDep,
    body: AnalysisRequest | None = None,
    user: UserContext = require("analysis:run", api_key=True),
) -> JSONResponse:
    ask = body or AnalysisRequest()
    begin, finish = _period(
        None if ask.start is None else str(ask.start), None if ask.end is None else str(ask.end)
    )
    stored, how = await service.create_analysis(runtime, session, user, begin, finish)
    return JSONResponse(stored, status_code=201, headers={"X-Cache": how})


@router.get(
    "/analyses/{analysis_id}",
    summary="A stored analysis report",
    response_model=AnalysisReport,
    responses=responses(404),
)
async def get_analysis(
    analysis_id: PathId,
    session: SessionDep,
    user: UserContext = require("usage:read", api_key=True),
) -> JSONResponse:
    found = await service.stored_report(session, user.org_id, analysis_id)
    if found is None:
        raise NotFound("analysis not found")
    return JSONResponse(found)  # as stored: the model documents it, it does not reshape it
