"""Finding 10 on PostgreSQL and Redis: what a production deployment shows strangers (no API
docs, /metrics and readiness details behind the operator token), the security headers, no
credential from a URL in the server's logs, binary WebSocket frames rate-limited."""

from __future__ import annotations

import asyncio
import logging
import secrets

import httpx
import websockets

from netra.apps.all_in_one import create_app
from netra.core.settings import _generate_private_key_pem
from support.apps import running_app
from support.realtime import Client, live_server, mint_token

PUBLIC = "https://netra.example.com"


def _production(pg_settings, **extra):  # type: ignore[no-untyped-def]
    return pg_settings(
        env="production", public_url=PUBLIC, allowed_origins=PUBLIC, jwt_issuer=PUBLIC,
        jwt_private_key=_generate_private_key_pem("Ed25519"),
        service_token=secrets.token_urlsafe(48), webhook_allow_loopback=False,
        secrets_key="2k3Cz0mHq9Yd4aZ1t7V8bN5xW6rE0uI3oP2lK9jH8gF=",
        embedded_workers=False, **extra,
    )  # fmt: skip


async def test_production_hides_docs_and_guards_operator_endpoints(pg_settings) -> None:  # type: ignore[no-untyped-def]
    token = secrets.token_urlsafe(32)
    async with running_app(create_app(_production(pg_settings, metrics_token=token))) as client:
        for path in ("/docs", "/openapi.json", "/redoc"):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        metrics = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert metrics.status_code == 200 and "netra_" in metrics.text

        public = (await client.get("/health/ready")).json()
        assert set(public["dependencies"]["database"]) == {"required", "status"}
        assert "127.0.0.1" not in str(public) and "postgres" not in str(public).lower()
        detailed = await client.get("/health/ready", headers={"Authorization": f"Bearer {token}"})
        assert len(detailed.json()["dependencies"]["database"]) > 1

        page = await client.get("/")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        api = await client.get("/api/v1/usage/summary")
        assert api.status_code == 401 and api.headers["x-content-type-options"] == "nosniff"


async def test_production_without_a_metrics_token_serves_no_metrics(pg_settings) -> None:  # type: ignore[no-untyped-def]
    async with running_app(create_app(_production(pg_settings))) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/health/live")).status_code == 200


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_a_token_in_a_url_never_reaches_the_server_log(pg_settings) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    from support.services import free_port

    app = create_app(pg_settings(embedded_workers=False))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", access_log=True)
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    handler = _Lines()
    loggers = [logging.getLogger(n) for n in ("uvicorn.access", "uvicorn.error")]
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        for logger in loggers:
            logger.addHandler(handler)
        secret = "eyJSECRET-" + secrets.token_hex(8)
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{port}/health/live?token={secret}&x=1")
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws?access_token={secret}")
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4401
        for _ in range(100):
            if any("WebSocket" in line for line in handler.lines):
                break
            await asyncio.sleep(0.02)
        assert any("/ws?access_token=[redacted]" in line for line in handler.lines), handler.lines
        assert any("/health/live?token=[redacted]&x=1" in line for line in handler.lines)
        assert not any(secret in line for line in handler.lines)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        server.should_exit = True
        await asyncio.wait_for(task, 20)


async def test_binary_frames_spend_the_frame_rate(pg_settings) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings(ws_frame_burst=5, ws_frame_rate_per_s=0.5, embedded_workers=False)
    async with live_server(create_app(settings)) as server:
        client = await Client.connect(server.ws_url, mint_token(server))
        for _ in range(12):
            await client.ws.send(b"\x00" * 100)
        codes = [(await client.recv_type("error"))["payload"]["code"] for _ in range(12)]
        assert codes[:5] == ["invalid_frame"] * 5
        assert set(codes[5:]) == {"rate_limited"}
        await client.close()
