"""Findings 4 and 10, pure logic: which address a request comes from (X-Forwarded-For only from
trusted proxies), and credentials masked in server log lines."""

from __future__ import annotations

import logging

import pytest

from netra.core.client_address import client_address, parse_proxies
from netra.core.web_security import redact, redact_credentials


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    xff = {"x-forwarded-for": "198.51.100.9, 10.0.0.7"}
    assert client_address("203.0.113.5", xff, "") == "203.0.113.5"  # no proxy configured
    assert client_address("203.0.113.5", xff, "10.0.0.0/8") == "203.0.113.5"  # peer untrusted
    # The peer and the last hop are trusted proxies: the first untrusted from the right wins.
    assert client_address("10.0.0.2", xff, "10.0.0.0/8") == "198.51.100.9"
    # A client's own forged entries on the left are never reached.
    forged = {"x-forwarded-for": "1.1.1.1, 198.51.100.9"}
    assert client_address("10.0.0.2", forged, "10.0.0.0/8") == "198.51.100.9"
    assert client_address("10.0.0.2", {}, "10.0.0.0/8") == "10.0.0.2"
    assert client_address("10.0.0.2", {"x-forwarded-for": "garbage"}, "10.0.0.0/8") == "10.0.0.2"
    with pytest.raises(ValueError):
        parse_proxies("10.0.0.0/8, not-an-address")


def test_credential_query_values_are_masked() -> None:
    assert redact("/ws?access_token=eyJabc.def&x=1") == "/ws?access_token=[redacted]&x=1"
    assert redact("GET /a?x=1&Token=s3cret HTTP/1.1") == "GET /a?x=1&Token=[redacted] HTTP/1.1"
    assert redact("/callback?code=abc&state=xyz") == "/callback?code=[redacted]&state=xyz"
    assert redact("/health/live") == "/health/live"


def test_the_filter_rewrites_uvicorn_records() -> None:
    redact_credentials()
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("uvicorn.error")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5", "/ws?jwt=secret-value")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert records == ['127.0.0.1:5 - "WebSocket /ws?jwt=[redacted]" [accepted]']
