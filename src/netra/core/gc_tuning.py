"""The cyclic garbage collector of a server process, tuned for many long-lived objects.

With Python's defaults (a young collection every 700 allocations, a full one every 100 of
those) a replica holding thousands of open sockets spends a large share of its CPU walking the
same live objects again and again: with 3,000 sockets, 17 full collections took 4.5 s of a
reconnect storm's CPU (``bench/realtime_scale.py``). A server process therefore freezes what
exists once it is built (modules, classes, the app: never garbage, never walked again) and
collects less often. Only server processes do this (``netra serve``/``api``/``worker``/
``auth-service``); a process building many apps, like the test suite, keeps the defaults.
"""

from __future__ import annotations

import gc

# Young collections every this many allocations; then (x20) middle, (x20) full ones.
DEFAULT_GEN0 = 10_000


def tune_for_server(gen0_threshold: int = DEFAULT_GEN0) -> None:
    """Freeze the objects built so far and collect less often (``0``: Python's defaults)."""
    if gen0_threshold <= 0:
        return
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()
    gc.set_threshold(gen0_threshold, 20, 20)
