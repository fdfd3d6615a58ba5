"""Streaming request bodies: the file part of a multipart upload, chunk by chunk, and its
text lines, without ever holding the whole file.

The multipart framing is parsed incrementally (python-multipart's push parser) as the request
arrives, on the event loop, each chunk awaited with a read deadline; the file's bytes go to a
:class:`Spool` (a temporary file), which the parsing thread reads once the upload is complete.
No worker thread ever waits for a client's bytes, and memory stays flat whatever the size.
"""

from __future__ import annotations

import asyncio
import codecs
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header

from netra.core.errors import BadInput, RequestTimeout, TooLarge


class FilePart:
    """Pull the bytes of the first file part (a part with a ``filename``, or named ``file``)
    out of a multipart body fed to :meth:`feed` chunk by chunk."""

    def __init__(self, boundary: bytes) -> None:
        self.filename: str | None = None
        self.found = False
        self.finished = False
        self._in_file = False
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._out: list[bytes] = []
        callbacks: Any = {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }
        self._parser = MultipartParser(boundary, callbacks)

    def feed(self, chunk: bytes) -> list[bytes]:
        """The file bytes found in ``chunk`` (possibly none)."""
        try:
            self._parser.write(chunk)
        except Exception as exc:  # python-multipart raises its own errors on bad framing
            raise BadInput(f"malformed multipart body: {exc}") from exc
        out, self._out = self._out, []
        return out

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._field).lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        if self.found:
            return
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        if filename is not None or options.get(b"name") == b"file":
            self.found = self._in_file = True
            self.filename = filename.decode("utf-8", "replace") if filename else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._out.append(bytes(data[start:end]))

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self.finished = True


def multipart_boundary(content_type: str) -> bytes | None:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        return None
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadInput("multipart body without a boundary")
    return boundary


class FileChunks:
    """``await next_chunk()`` gives the next bytes of the uploaded file, ``None`` at its end."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes | None) -> None:
        self._body = body
        self._part = FilePart(boundary) if boundary is not None else None
        self._ready: list[bytes] = []
        self._ended = False
        self.size = 0
        self.first_bytes = b""

    @property
    def filename(self) -> str | None:
        return self._part.filename if self._part else None

    async def _fill(self) -> None:
        """Read the next body chunk; whatever file bytes it holds join ``_ready``."""
        try:
            chunk = await self._body.__anext__()
        except StopAsyncIteration:
            self._ended = True
            if self._part is not None and not self._part.found:
                raise BadInput("the multipart body has no file part") from None
            return
        if self._part is None:
            if chunk:
                self._ready.append(chunk)
            return
        self._ready.extend(c for c in self._part.feed(chunk) if c)
        if self._part.finished:
            self._ended = True  # anything after the file part is ignored

    async def next_chunk(self) -> bytes | None:
        while not self._ready:
            if self._ended:
                return None
            await self._fill()
        chunk = self._ready.pop(0)
        self.size += len(chunk)
        return chunk

    async def peek(self, n: int = 4096) -> bytes:
        """The file's first bytes (for format sniffing), kept for the reader."""
        while sum(map(len, self._ready)) < n and not self._ended:
            await self._fill()
        self.first_bytes = b"".join(self._ready)[:n]
        return self.first_bytes


MAX_LINE_CHARS = 1 << 20  # a usage record is a few hundred bytes: a 1 MiB line is not one


class LineReader:
    """Text lines (with their ``\\n``) of a byte stream read through ``next_chunk``.

    UTF-8 with an optional BOM. Invalid bytes are kept as surrogates (``surrogateescape``) so
    the row holding them is rejected with its line instead of failing the whole file.
    ``line`` is the number of lines handed out so far; ``lines_before`` > 0 reads from the
    start of a line in the middle of a file (numbered on from there, no BOM expected).
    """

    def __init__(
        self,
        next_chunk: Callable[[], bytes | None],
        max_line_bytes: int = MAX_LINE_CHARS,
        *,
        lines_before: int = 0,
    ) -> None:
        self._next_chunk = next_chunk
        self._max_line = max_line_bytes
        self.line = lines_before

    def __iter__(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        pending = ""
        first = self.line == 0
        while True:
            chunk = self._next_chunk()
            final = chunk is None
            text = pending + decoder.decode(chunk or b"", final=final)
            if first and text:
                text = text.removeprefix("\ufeff")
                first = False
            parts = text.split("\n")
            pending = parts.pop()
            if len(pending) > self._max_line:
                raise BadInput(
                    f"line {self.line + len(parts) + 1} is longer than {self._max_line} characters"
                )
            for part in parts:
                self.line += 1
                yield part + "\n"
            if final:
                break
        if pending:
            self.line += 1
            yield pending


async def with_read_deadline(body: AsyncIterator[bytes], timeout_s: float) -> AsyncIterator[bytes]:
    """The body's chunks, each awaited at most ``timeout_s``: a client that stops sending
    (slow-loris) gets ``RequestTimeout`` (408) instead of holding the request forever."""
    iterator = body.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), timeout_s)
        except StopAsyncIteration:
            return
        except TimeoutError:
            message = f"no request body bytes received for {timeout_s:g} s"
            raise RequestTimeout(message, details={"timeout_s": timeout_s}) from None
        yield chunk


class Spool:
    """The uploaded file received on the event loop into a temporary file (memory up to
    ``memory_bytes``, then disk), so the parsing thread reads bytes that are already here and
    never waits on the network."""

    READ_SIZE = 256 * 1024

    def __init__(self, memory_bytes: int = 1 << 20) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=memory_bytes)
        self.size = 0

    async def fill(self, next_chunk: Callable[[], Awaitable[bytes | None]]) -> None:
        while (chunk := await next_chunk()) is not None:
            self._file.write(chunk)
            self.size += len(chunk)
        self._file.seek(0)

    def read_chunk(self) -> bytes | None:
        """The next bytes of the file (``None`` at its end): a plain, non-blocking-on-network
        read for the parsing thread."""
        data = self._file.read(self.READ_SIZE)
        return data or None

    def close(self) -> None:
        self._file.close()


async def read_capped(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """A whole (small) request body, refused as too large as soon as it passes ``limit``
    (at once when its declared Content-Length already does)."""
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body larger than {limit} bytes")
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"request body larger than {limit} bytes")
    return bytes(body)
