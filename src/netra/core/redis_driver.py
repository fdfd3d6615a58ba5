"""Options every Redis client of Netra is built with.

redis-py names itself to the server on every new connection (CLIENT SETINFO), and left to
itself reads its own version from the installed package's metadata each time: a scan of the
import path that profiling showed as two thirds of a WebSocket connect under a burst of
handshakes (each burst opens new pool connections). The version is given once here instead.
"""

from __future__ import annotations

from typing import Any

import redis

try:
    from redis.driver_info import DriverInfo

    CLIENT_OPTIONS: dict[str, Any] = {"driver_info": DriverInfo(lib_version=redis.__version__)}
except ImportError:  # redis-py before 7: the same through the older keyword
    CLIENT_OPTIONS = {"lib_version": redis.__version__}
