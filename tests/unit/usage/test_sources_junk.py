"""Junk in any source never crashes the reader: every row comes out as a record or a row
error naming its line, or the file is refused as a whole with a clear ``BadInput``."""

from __future__ import annotations

import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from netra.core.errors import BadInput
from netra.records.record import RowError, UsageRecord
from netra.usage.sources import UsageStream
from support import usage_exports as ux

EXPORTS = [build(12, 9, layout) for build, layout in ux.ALL]
JUNK = [b"", b"-1", b"1e400", b"\xff\xfe", b'"', b"{", b"[]", b"null", b"NaN", b"\x00", b"x" * 300]


def read(body: bytes) -> list[UsageRecord | RowError]:
    parts = iter([body[i : i + 512] for i in range(0, len(body), 512)])
    return list(UsageStream(lambda: next(parts, None), filename="junk"))


@settings(max_examples=150, deadline=None)
@example(6, [(457, b"\xff\xfe")])  # found by this test: invalid UTF-8 in a bucket's grouping
@given(
    st.sampled_from(range(len(EXPORTS))),
    st.lists(st.tuples(st.integers(0, 10**9), st.sampled_from(JUNK)), min_size=1, max_size=4),
)
def test_junk_anywhere_in_any_source_is_reported_never_a_crash(
    which: int, edits: list[tuple[int, bytes]]
) -> None:
    body = bytearray(EXPORTS[which].body)
    for at, junk in edits:
        position = at % (len(body) + 1)
        body[position : position + random.Random(at).randint(0, 8)] = junk
    try:
        rows = read(bytes(body))
    except BadInput as refused:
        assert refused.message
        return
    for row in rows:
        assert isinstance(row, UsageRecord | RowError)
        if isinstance(row, RowError):
            assert row.line >= 0 and row.message
