"""Streaming upload bodies: the file part of a multipart body and its lines, chunk by chunk."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from netra.core.errors import BadInput
from netra.usage.stream import FileChunks, LineReader, multipart_boundary

BOUNDARY = b"----netra-test-boundary"


def multipart(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += b"--" + BOUNDARY + b"\r\n"
        out += f"Content-Disposition: {disposition}\r\n".encode()
        out += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\n"


async def chunked(data: bytes, seed: int) -> AsyncIterator[bytes]:
    rng = random.Random(seed)
    i = 0
    while i < len(data):
        n = rng.randint(1, 97)
        yield data[i : i + n]
        i += n


async def read_all(chunks: FileChunks) -> bytes:
    out = b""
    while (chunk := await chunks.next_chunk()) is not None:
        out += chunk
    return out


def test_boundary_from_content_type() -> None:
    assert multipart_boundary(f"multipart/form-data; boundary={BOUNDARY.decode()}") == BOUNDARY
    assert multipart_boundary("text/csv") is None
    with pytest.raises(BadInput):
        multipart_boundary("multipart/form-data")


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_file_part_bytes_survive_any_chunking(seed: int) -> None:
    payload = bytes(random.Random(seed).randrange(256) for _ in range(5000)) + b"\r\n--x"
    body = multipart([("note", None, b"ignored field"), ("file", "u.csv", payload)])
    chunks = FileChunks(chunked(body, seed), BOUNDARY)
    head = await chunks.peek(100)
    assert head == payload[:100]
    assert await read_all(chunks) == payload
    assert chunks.filename == "u.csv"
    assert chunks.size == len(payload)


async def test_only_the_first_file_part_is_read() -> None:
    body = multipart([("file", "a.csv", b"first"), ("other", "b.csv", b"second")])
    chunks = FileChunks(chunked(body, 7), BOUNDARY)
    assert await read_all(chunks) == b"first"


async def test_body_without_a_file_part_is_refused() -> None:
    chunks = FileChunks(chunked(multipart([("note", None, b"text")]), 3), BOUNDARY)
    with pytest.raises(BadInput, match="no file part"):
        await read_all(chunks)


async def test_garbage_multipart_is_bad_input() -> None:
    chunks = FileChunks(chunked(b"this is not multipart at all\r\n" * 3, 5), BOUNDARY)
    with pytest.raises(BadInput):
        await read_all(chunks)


async def test_raw_body_passes_through() -> None:
    chunks = FileChunks(chunked(b"a,b\n1,2\n", 9), None)
    assert await read_all(chunks) == b"a,b\n1,2\n"


def feeder(data: bytes, size: int):  # type: ignore[no-untyped-def]
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    pieces.reverse()
    return lambda: pieces.pop() if pieces else None


@pytest.mark.parametrize("size", [1, 2, 3, 7, 4096])
def test_lines_across_chunk_boundaries(size: int) -> None:
    text = "\ufeffh1,h2\r\nä,€\n\nlast line without newline"
    reader = LineReader(feeder(text.encode(), size))
    assert list(reader) == ["h1,h2\r\n", "ä,€\n", "\n", "last line without newline"]
    assert reader.line == 4


def test_invalid_utf8_is_kept_for_the_row_to_be_rejected() -> None:
    lines = list(LineReader(feeder(b"ok\nbad \xff here\n", 3)))
    assert lines[0] == "ok\n"
    assert "\udcff" in lines[1]


def test_endless_line_is_refused_with_its_number() -> None:
    data = b"short\n" + b"x" * 5000
    with pytest.raises(BadInput, match="line 2"):
        list(LineReader(feeder(data, 512), max_line_bytes=1000))
