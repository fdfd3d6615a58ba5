"""The runtime of one process: settings and every dependency, built in the lifespan.

Nothing here is created at import time. Routers reach the runtime through
``request.app.state.runtime`` (see ``core/deps.py``); workers get it passed in. What domains
lend each other (token verifier, connection hub, pipeline, ...) is in ``services``, typed
(``core/services.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from netra.core.bus import Bus, build_bus
from netra.core.cache import Cache, build_cache
from netra.core.db import Database
from netra.core.lifecycle import Dependency, Lifecycle
from netra.core.observability import Metrics
from netra.core.queue import Queue, build_queue
from netra.core.services import Services
from netra.core.settings import Settings


def redact_url(url: str) -> str:
    """A URL safe to print: the password replaced."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@dataclass
class Runtime:
    settings: Settings
    db: Database
    cache: Cache
    bus: Bus
    queue: Queue
    metrics: Metrics
    lifecycle: Lifecycle
    services: Services = field(default_factory=Services)

    async def start(self) -> None:
        await self.lifecycle.start()

    async def stop(self) -> None:
        await self.lifecycle.stop()


def build_runtime(settings: Settings) -> Runtime:
    """Wire the dependencies for ``settings``; :meth:`Runtime.start` connects them in order."""
    key_prefix = settings.redis_prefix
    db = Database(settings)
    cache = build_cache(settings.redis_url, key_prefix)
    bus = build_bus(settings.redis_url, key_prefix)
    queue = build_queue(settings.redis_url, key_prefix)
    lifecycle = Lifecycle()
    lifecycle.add(
        Dependency(
            "database",
            check=db.ping,
            stop=db.close,
            describe=redact_url(settings.effective_database_url),
        )
    )
    is_memory = settings.redis_url.startswith("memory://")
    # Redis must answer at start-up (a wrong URL fails fast), but once running a process
    # copes without it: events are stored before they are published and clients fill gaps
    # from the store, runs wait queued and are swept into the queue again, revocations live
    # in the database (sign-in throttling fails closed: 503). So a Redis outage degrades
    # readiness, it does not take the replica out of its load balancer.
    lifecycle.add(
        Dependency(
            "redis" if not is_memory else "cache",
            check=cache.ping,
            stop=cache.close,
            describe=redact_url(settings.redis_url),
            essential=is_memory,
        )
    )
    lifecycle.add(
        Dependency("bus", check=bus.ping, stop=bus.close, describe="pub/sub", essential=is_memory)
    )
    lifecycle.add(
        Dependency(
            "queue", check=queue.ping, stop=queue.close, describe="run queue", essential=is_memory
        )
    )
    return Runtime(settings, db, cache, bus, queue, Metrics(), lifecycle)
