"""Which errors are a database outage (503 on every router) and which stay a 500."""

from __future__ import annotations

import errno
import socket

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from netra.core.db import database_unavailable


class _Driver(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("exc", "outage"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), True),
        (socket.gaierror(-2, "Name or service not known"), True),
        (TimeoutError(), True),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed"), True),
        (OSError(errno.EHOSTUNREACH, "No route to host"), True),
        (PoolTimeout("QueuePool limit reached"), True),
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (DBAPIError("SELECT 1", {}, _Driver("3D000")), True),  # the database is gone
        (DBAPIError("SELECT 1", {}, _Driver("57P01")), True),  # admin shutdown
        # Not an outage: a full disk, a missing file, a broken constraint, bad SQL.
        (OSError(errno.ENOSPC, "No space left on device"), False),
        (FileNotFoundError(errno.ENOENT, "missing"), False),
        (IntegrityError("INSERT", {}, _Driver("23505")), False),
        (DBAPIError("SELEC 1", {}, _Driver("42601")), False),
        (ValueError("not a database error"), False),
    ],
)
def test_outage_or_not(exc: BaseException, outage: bool) -> None:
    assert database_unavailable(exc) is outage
