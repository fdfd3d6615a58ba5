"""The audit log's ``after``: an RFC 3339 time or the previous page's cursor; anything else is
a 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from netra.core.errors import ValidationFailed
from netra.governance.audit_log import parse_after


def test_a_time_or_a_cursor() -> None:
    assert parse_after(None) is None and parse_after("  ") is None
    moment = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert parse_after("2026-03-01T12:00:00.123456Z") == (moment, "")
    assert parse_after("2026-03-01T13:00:00.123456+01:00") == (moment, "")
    assert parse_after("2026-03-01T12:00:00.123456") == (moment, "")  # UTC when no offset
    assert parse_after(f"2026-03-01T12:00:00.123456Z~{'ab' * 16}") == (moment, "ab" * 16)


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-13-01T00:00:00Z", "2026-03-01T12:00:00Z~XYZ", "~" + "a" * 40]
)
def test_anything_else_is_refused_naming_the_field(value: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_after(value)
    assert refused.value.details == {"field": "after"}
