"""Response bodies of the ingest endpoints (API.md "Backend")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RejectedRow(BaseModel):
    line: int = Field(description="1-based line of the file (CSV header: 1) or record index + 1")
    field: str | None = Field(description="the offending field; null: the row as a whole")
    message: str


class IngestAnswer(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "accepted": 2,
                    "duplicates": 0,
                    "rejected": [{"line": 3, "field": "input_tokens", "message": "must be >= 0"}],
                    "rejected_count": 1,
                    "rejected_truncated": False,
                }
            ]
        },
    )

    accepted: int
    duplicates: int
    rejected: list[RejectedRow]
    rejected_count: int = Field(description="every rejected row, listed or not")
    rejected_truncated: bool = Field(description="more rows were rejected than listed")
    source: str | None = Field(default=None, description="the source recognised (uploads)")
    ignored_fields: list[str] | None = Field(
        default=None,
        description="columns or keys (of the file or the records) that are not read, listed once",
    )
    skipped: int | None = Field(default=None, description="rows the source marks as not usage")
