"""``netra upload`` end to end: the real command streams exports of several sources to a real
``netra serve`` (PostgreSQL, Redis) with an API key (``NETRA_API_KEY``), prints what the server
took, and exits 0/1/2 as API.md says; an access token works through the same header."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import usage_exports as ux
from support.accounts import bearer, signup_sync
from support.servers import ServerProcess, server
from support.services import (
    flush_redis_prefix,
    free_port,
    fresh_postgres_database,
    new_redis_prefix,
    redis_server_url,
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    redis_url, prefix = redis_server_url(), new_redis_prefix()
    with fresh_postgres_database(migrate=False) as pg_url:
        env = {
            "NETRA_DATA_DIR": str(tmp_path_factory.mktemp("upload-cli")),
            "NETRA_DATABASE_URL": pg_url,
            "NETRA_REDIS_URL": redis_url,
            "NETRA_REDIS_PREFIX": prefix,
        }
        with server("serve", env) as proc:
            yield proc
    flush_redis_prefix(redis_url, prefix)


def upload(*args: str, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRA_")}
    if key is not None:
        env["NETRA_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "netra", "upload", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def write(tmp_path: Path, export: ux.Export) -> Path:
    path = tmp_path / export.filename
    path.write_bytes(export.body)
    return path


def calls(srv: ServerProcess, token: str) -> tuple[int, int]:
    r = httpx.get(f"{srv.url}/api/v1/usage/summary", params={"group_by": "provider"},
                  headers=bearer(token), timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    groups = r.json()["groups"]
    return sum(g["records"] for g in groups), sum(g["requests"] for g in groups)


def test_files_of_several_sources_are_streamed_with_an_api_key(
    srv: ServerProcess, tmp_path: Path
) -> None:
    owner = signup_sync(srv.url)["access_token"]
    made = httpx.post(f"{srv.url}/api/v1/api-keys", headers=bearer(owner), timeout=30,
                      json={"name": "uploader", "scopes": ["usage:write"]})  # fmt: skip
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    openai = ux.openai_usage(200, 1, "csv")
    litellm = ux.litellm(250, 2, "json", corrupt=True)
    done = upload(str(write(tmp_path, openai)), str(write(tmp_path, litellm)),
                  "--url", srv.url, key=key)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"source openai-usage: accepted {openai.expect.records}, duplicates 0" in done.stdout
    assert f"source litellm: accepted {litellm.expect.records}, duplicates 0, rejected 1" in (
        done.stdout
    )
    assert litellm.bad is not None
    assert f"{litellm.filename}:{litellm.bad[0]}: {litellm.bad[1]}:" in done.stderr
    records, requests = calls(srv, owner)
    assert records == openai.expect.records + litellm.expect.records
    assert requests == openai.expect.requests + litellm.expect.requests
    again = upload(str(tmp_path / openai.filename), "--url", srv.url, "--source",
                   "openai-usage", key=key)  # fmt: skip
    assert again.returncode == 0 and f"duplicates {openai.expect.records}" in again.stdout
    assert key not in srv.log()


def test_an_access_token_works_through_the_same_header(srv: ServerProcess, tmp_path: Path) -> None:
    token = signup_sync(srv.url)["access_token"]
    export = ux.openrouter(120, 3)
    done = upload(str(write(tmp_path, export)), "--url", srv.url, key=token)
    assert done.returncode == 0, done.stderr
    assert calls(srv, token)[0] == export.expect.records


def test_bad_usage_and_bad_input_exit_2_and_failures_exit_1(
    srv: ServerProcess, tmp_path: Path
) -> None:
    token = signup_sync(srv.url)["access_token"]
    export = write(tmp_path, ux.helicone(10, 4))
    no_key = upload(str(export), "--url", srv.url, key=None)
    assert no_key.returncode == 2 and "NETRA_API_KEY" in no_key.stderr
    bad_key = upload(str(export), "--url", srv.url, key="nk_not-a-key")
    assert bad_key.returncode == 2 and "401" in bad_key.stderr
    missing = upload(str(tmp_path / "nope.csv"), "--url", srv.url, key=token)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("when,what\n1,2\n")
    refused = upload(str(unknown), "--url", srv.url, key=token)
    assert refused.returncode == 2 and "cannot tell which export" in refused.stderr
    wrong_source = upload(str(export), "--url", srv.url, "--source", "datadog", key=token)
    assert wrong_source.returncode == 2
    down = upload(str(export), "--url", f"http://127.0.0.1:{free_port()}", key=token)
    assert down.returncode == 1 and "could not send" in down.stderr
