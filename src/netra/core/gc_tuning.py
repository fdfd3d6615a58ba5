"""The cyclic garbage collector of a server process, tuned for many long-lived objects.

With Python's defaults a full collection follows every 10 middle ones, and a replica holding
thousands of open sockets walks all their objects each time: with 3,000 sockets, 17 full
collections took 4.5 s of a reconnect storm's CPU (``bench/realtime_scale.py``). A server
process therefore freezes what exists once it is built (modules, classes, the app: never
garbage, never walked again) and runs full collections ten times more rarely. The young
collections keep Python's pace: raised, they let short-lived cycles holding large buffers (an
upload's parsed chunks) live long enough to grow the process by tens of MiB. Only server
processes do this (``netra serve``/``api``/``worker``/``auth-service``); a process building many
apps, like the test suite, keeps the defaults.
"""

from __future__ import annotations

import gc

DEFAULT_FULL_THRESHOLD = 100  # middle collections per full one (Python's default: 10)


def tune_for_server(full_threshold: int = DEFAULT_FULL_THRESHOLD) -> None:
    """Freeze the objects built so far and run full collections every ``full_threshold`` middle
    ones (``0``: Python's defaults, nothing frozen)."""
    if full_threshold <= 0:
        return
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, full_threshold)
