"""I19: the OpenAPI document is enough to write a client. ``openapi-python-client`` generates
one from the live schema of a running ``netra serve`` (PostgreSQL, Redis), and that generated
code alone signs up, signs in, uploads a usage file and reads an analysis back."""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.accounts import STRONG_PASSWORD, new_email
from support.servers import ServerProcess, server
from support.services import fresh_postgres_database, new_redis_prefix, redis_server_url

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with fresh_postgres_database() as pg_url:
        env = {
            "NETRA_DATA_DIR": str(tmp_path_factory.mktemp("generated")),
            "NETRA_DATABASE_URL": pg_url,
            "NETRA_REDIS_URL": redis_server_url(),
            "NETRA_REDIS_PREFIX": new_redis_prefix(),
        }
        with server("serve", env) as srv:
            yield srv


def _generate(srv: ServerProcess, where: Path) -> Any:
    """Generate the client package ``netra_client`` under ``where`` and import it."""
    schema = where / "openapi.json"
    schema.write_bytes(httpx.get(f"{srv.url}/openapi.json", timeout=30).content)
    done = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(schema),
         "--output-path", str(where / "netra_client"), "--meta", "none"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module("netra_client")
    finally:
        sys.path.remove(str(where))


def _usage_csv() -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    rows = ["timestamp,provider,model,input_tokens,output_tokens,feature"]
    for i in range(60):
        stamp = (now - timedelta(hours=i)).isoformat()
        model = "gpt-4o" if i % 3 else "gpt-4o-mini"
        rows.append(f"{stamp},openai,{model},{2000 + i},{150 + i},support")
    return ("\n".join(rows) + "\n").encode()


def test_a_client_generated_from_the_schema_signs_in_uploads_and_reads_an_analysis(
    serve: ServerProcess, tmp_path: Path
) -> None:
    client_pkg = _generate(serve, tmp_path)
    mod = f"{client_pkg.__name__}"

    def api(name: str) -> Any:
        return importlib.import_module(f"{mod}.api.{name}")

    models = importlib.import_module(f"{mod}.models")
    types = importlib.import_module(f"{mod}.types")
    auth_api = api("auth")
    anonymous = client_pkg.Client(base_url=serve.url, raise_on_unexpected_status=True)
    email = new_email("generated")

    register = importlib.import_module(f"{auth_api.__name__}.register_auth_register_post")
    created = register.sync(
        client=anonymous, body=models.RegisterIn(email=email, password=STRONG_PASSWORD)
    )
    assert isinstance(created, models.Registered) and created.user.email == email

    login = importlib.import_module(f"{auth_api.__name__}.login_auth_login_post")
    wrong = login.sync_detailed(
        client=anonymous, body=models.LoginIn(email=email, password="not-the-password")
    )
    assert wrong.status_code == 401 and isinstance(wrong.parsed, models.ErrorResponse)
    assert wrong.parsed.error.code == "unauthenticated"  # the shared error schema, typed
    tokens = login.sync(
        client=anonymous, body=models.LoginIn(email=email, password=STRONG_PASSWORD)
    )
    assert isinstance(tokens, models.TokenPair) and tokens.token_type == "bearer"
    signed_in = client_pkg.AuthenticatedClient(
        base_url=serve.url, token=tokens.access_token, raise_on_unexpected_status=True
    )

    upload = importlib.import_module(
        f"{api('usage').__name__}.upload_usage_api_v1_usage_upload_post"
    )
    body = models.UploadUsageApiV1UsageUploadPostFilesBody(
        file=types.File(
            payload=io.BytesIO(_usage_csv()), file_name="usage.csv", mime_type="text/csv"
        )
    )
    source = models.UploadUsageApiV1UsageUploadPostSource("auto")  # the declared enum
    answer = upload.sync(client=signed_in, body=body, source=source)
    assert isinstance(answer, models.IngestAnswer), answer
    assert answer.accepted == 60 and answer.rejected_count == 0

    reports = api("reports").__name__
    create = importlib.import_module(f"{reports}.create_analysis_api_v1_analyses_post")
    report = create.sync(client=signed_in, body=models.AnalysisRequest())
    assert isinstance(report, models.AnalysisReport), report
    assert report.records == 60 and report.total_cost_usd > 0

    read = importlib.import_module(f"{reports}.get_analysis_api_v1_analyses_analysis_id_get")
    again = read.sync(report.id, client=signed_in)
    assert isinstance(again, models.AnalysisReport)
    assert again.id == report.id and again.total_cost_usd == report.total_cost_usd
    assert {g.key for g in again.breakdown.by_model} == {"gpt-4o", "gpt-4o-mini"}

    missing = read.sync_detailed("0" * 32, client=signed_in.with_headers({}))
    assert missing.status_code == 404 and isinstance(missing.parsed, models.ErrorResponse)
