"""``netra upload FILE... --url URL``: stream usage files to a running Netra.

Each file is sent as it is (any source of API.md "Usage sources"; the server recognises it
unless ``--source`` names it) to ``POST /api/v1/usage/upload`` as a multipart body read from
disk in chunks, never whole, with ``Authorization: Bearer <NETRA_API_KEY>``. A progress bar
shows the bytes sent on a terminal. For each file it prints the recognised source, accepted,
duplicates and rejected rows (the first ``MAX_SHOWN`` as ``FILE:LINE: field: reason``).

A 429 (the organisation's request rate, or the tier's concurrent uploads) is not the file's
fault: the file is sent again after the answer's ``Retry-After``, up to ``MAX_TRIES`` times.

Exit codes (API.md): 0 every file was taken (rows the server rejected are listed, as
``netra analyze`` does); 1 the work failed (server unreachable, a server error, the server
still busy after the retries, the answer unreadable); 2 bad usage or bad input (no key, a
missing file, the server refused a file or the credentials: its message is printed).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TransferSpeedColumn

UPLOAD_PATH = "/api/v1/usage/upload"
MAX_SHOWN = 20
CHUNK = 1 << 20
MAX_TRIES = 5  # sends of one file while the server answers 429
MAX_WAIT_S = 300  # the longest Retry-After honoured


class _Counted:
    """A file whose reads advance a progress bar."""

    def __init__(self, handle: BinaryIO, bar: tuple[Progress, TaskID] | None) -> None:
        self._handle = handle
        self._bar = bar

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        if self._bar is not None and data:
            self._bar[0].advance(self._bar[1], len(data))
        return data

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def endpoint(url: str, source: str) -> str:
    base = url.rstrip("/")
    if not base.endswith(UPLOAD_PATH):
        base += UPLOAD_PATH
    return f"{base}?source={source}"


def upload_command(files: list[Path], url: str, source: str, api_key: str | None) -> int:
    if not api_key:
        _err("error: set NETRA_API_KEY to an API key (nk_...) or an access token")
        return 2
    if not files:
        _err("error: give at least one usage file")
        return 2
    for path in files:
        if not path.is_file():
            _err(f"error: {path}: no such file")
            return 2
    worst = 0
    timeout = httpx.Timeout(30.0, read=3600.0, write=3600.0)
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(timeout=timeout, headers=headers) as client:
        for path in files:
            worst = max(worst, _send(client, endpoint(url, source), path))
            if worst == 1:
                break
    return worst


def _send(client: httpx.Client, target: str, path: Path) -> int:
    response = _post(client, target, path)
    for _ in range(MAX_TRIES - 1):
        if isinstance(response, int) or response.status_code != 429:
            break
        wait = _retry_after(response)
        _err(f"{path}: the server is busy ({_message(response)}): sending again in {wait} s")
        time.sleep(wait)
        response = _post(client, target, path)
    if isinstance(response, int):
        return response
    try:
        body = response.json()
    except ValueError:
        _err(f"error: {path}: the server answered {response.status_code} without JSON")
        return 1
    if response.status_code != 200:
        _err(f"error: {path}: {response.status_code} {_message(response)}")
        # A rate or a timeout is not the file's fault: the work failed, the input may be fine.
        return 1 if response.status_code >= 500 or response.status_code in (408, 429) else 2
    _report(path, body)
    return 0


def _post(client: httpx.Client, target: str, path: Path) -> httpx.Response | int:
    """The server's answer to one send of ``path``, or the exit code when it could not be sent."""
    bar = _progress(path) if sys.stderr.isatty() else None
    try:
        with path.open("rb") as handle:
            files: Any = {"file": (path.name, _Counted(handle, bar), "application/octet-stream")}
            return client.post(target, files=files)
    except httpx.HTTPError as exc:
        _err(f"error: {path}: could not send to {target}: {exc}")
        return 1
    except OSError as exc:
        _err(f"error: {path}: cannot read: {exc.strerror or exc}")
        return 2
    finally:
        if bar is not None:
            bar[0].stop()


def _retry_after(response: httpx.Response) -> int:
    value = response.headers.get("retry-after", "")
    return min(MAX_WAIT_S, max(1, int(value))) if value.isdigit() else 5


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error", {}) if isinstance(body, dict) else {}
    return str(error.get("message", response.text[:200])) if isinstance(error, dict) else ""


def _report(path: Path, body: dict[str, Any]) -> None:
    rejected = int(body.get("rejected_count", len(body.get("rejected", []))))
    print(
        f"{path}: source {body.get('source')}: accepted {body.get('accepted', 0)}, "
        f"duplicates {body.get('duplicates', 0)}, rejected {rejected}"
    )
    if body.get("ignored_fields"):
        print(f"{path}: ignored fields: {', '.join(body['ignored_fields'])}")
    for row in body.get("rejected", [])[:MAX_SHOWN]:
        _err(f"{path}:{row.get('line')}: {row.get('field') or 'row'}: {row.get('message')}")
    if rejected > MAX_SHOWN:
        _err(f"... and {rejected - MAX_SHOWN} more rejected rows")


def _progress(path: Path) -> tuple[Progress, TaskID]:
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )
    task = bar.add_task(f"sending {path.name}", total=max(path.stat().st_size, 1))
    bar.start()
    return bar, task
