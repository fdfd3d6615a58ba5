"""A 1,000,000-row CSV uploaded through the API of a real server process on PostgreSQL: every
row stored or reported, and the server's memory stays flat (areas I9; figures in bench/)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from netra.auth.keys import load_keys
from netra.auth.tokens import issue_access_token
from netra.core.settings import Settings, resolve_dev_secrets
from support.servers import server
from support.services import fresh_postgres_database, new_redis_prefix, redis_server_url
from support.usage_files import write_csv

MB = 1024 * 1024


def peak_rss(pid: int) -> int:
    """The process's high-water resident set size in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def upload(url: str, token: str, path: Path) -> dict[str, object]:
    with path.open("rb") as fh:
        r = httpx.post(
            f"{url}/api/v1/usage/upload",
            files={"file": (path.name, fh, "text/csv")},
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        )
    assert r.status_code == 200, r.text[:500]
    return dict(r.json())


def stored_rows(pg_url: str, org: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            sql = "SELECT count(*) FROM usage_records WHERE org_id = $1"
            return int(await conn.fetchval(sql, org))
        finally:
            await conn.close()

    return asyncio.run(count())


@pytest.mark.timeout(420)  # a million rows over HTTP: minutes on a busy 2-core machine
def test_million_row_upload_keeps_memory_flat(tmp_path: Path) -> None:
    small = write_csv(tmp_path / "small.csv", 100_000, prefix="s")
    big = write_csv(tmp_path / "big.csv", 1_000_000, prefix="b", bad_every=250_000)
    data_dir = tmp_path / "data"
    with fresh_postgres_database() as pg_url:
        env = {
            "NETRA_DATA_DIR": str(data_dir),
            "NETRA_DATABASE_URL": pg_url,
            "NETRA_REDIS_URL": redis_server_url(),
            "NETRA_REDIS_PREFIX": new_redis_prefix(),
            "NETRA_LOG_LEVEL": "WARNING",
        }
        with server("serve", env) as srv:
            # The server generated its development signing key in the data directory.
            settings = resolve_dev_secrets(Settings(env="test", data_dir=data_dir))
            token, _ = issue_access_token(
                load_keys(settings), settings, user_id="u1", org_id="big-org", tier="enterprise",
                role="owner",
            )  # fmt: skip
            first = upload(srv.url, token, small)
            assert first["accepted"] == 100_000 and first["rejected_count"] == 0
            after_small = peak_rss(srv.proc.pid)

            started = time.monotonic()
            second = upload(srv.url, token, big)
            elapsed = time.monotonic() - started
            after_big = peak_rss(srv.proc.pid)

        # Every row accounted for: 4 broken lines reported with their line numbers.
        assert second["accepted"] == 1_000_000 - 4
        assert second["duplicates"] == 0
        assert [(e["line"], e["field"]) for e in second["rejected"]] == [  # type: ignore[union-attr]
            (250_001, "input_tokens"),
            (500_001, "input_tokens"),
            (750_001, "input_tokens"),
            (1_000_001, "input_tokens"),
        ]
        assert stored_rows(pg_url, "big-org") == 1_100_000 - 4

    size = big.stat().st_size
    big.unlink()  # 86 MiB: not worth keeping among pytest's retained temp dirs
    small.unlink()
    growth = after_big - after_small
    print(
        f"\n1M rows ({size / MB:.0f} MiB) in {elapsed:.1f}s = {1_000_000 / elapsed:,.0f} rows/s; "
        f"peak RSS after 100k: {after_small / MB:.0f} MiB, after 1M: {after_big / MB:.0f} MiB"
    )
    # Flat: ten times the rows moves the peak by far less than a tenth of the file.
    assert growth < size / 10, (growth, size)
    assert after_big < 400 * MB
