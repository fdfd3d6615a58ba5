"""E10 (load): the realtime benchmark's quick mode as a test, tiny N and M.

``bench/realtime.py --quick`` starts ``netra api`` + ``netra worker`` on a throwaway PostgreSQL
database and a fresh Redis prefix, python-socketio with its Redis manager, and a raw
``websockets`` server; opens authenticated sockets on each, runs the same fan-out, and prints
every figure beside the peers. Asserted: every event of every run reached every socket of its
user exactly once and in order, on all three, in the burst (every user asks at once) and paced
(``--rate``: a pause after each event; ``--ask-over``: the asks spread over a window); the
report carries each figure for each system and the ratios. No timing is asserted (figures
belong to bench/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.services import postgres_server_url, redis_server_url

pytestmark = pytest.mark.timeout(300)

BENCH = Path(__file__).resolve().parents[2] / "bench" / "realtime.py"
FIGURES = ("connects/s", "RSS per idle socket KiB", "delivered events/s",
           "run events/s emitted", "emit->receipt p50 ms", "emit->receipt p99 ms",
           "emit->receipt max ms", "ack p50 ms", "ack p99 ms", "ack max ms")  # fmt: skip


@pytest.mark.parametrize(
    "mode", [[], ["--rate", "600", "--ask-over", "0.3"]], ids=["burst", "paced"]
)
def test_e10_realtime_bench_quick(tmp_path: Path, mode: list[str]) -> None:
    out = tmp_path / "realtime.json"
    sockets, runs, events = 12, 3, 10
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--sockets", str(sockets), "--runs", str(runs),
         "--events", str(events), "--json", str(out), "--database-url", postgres_server_url(),
         "--redis-url", redis_server_url(), *mode],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    results = report["results"]
    assert set(results) == {"netra", "socketio", "websockets"}
    for name, r in results.items():
        # Every socket of a user got each of its run's events (4 fixed + the thinking ones).
        assert r["sockets"] == sockets, name
        assert r["expected"] == sockets * (events + 4), name
        assert r["deliveries"] == r["expected"], (name, r)
        assert r["lost"] == r["duplicated"] == r["out_of_order"] == r["foreign"] == 0, (name, r)
        assert r["connect_failures"] == 0, (name, r)
        assert len(r["acks_ms"]) == runs, (name, r)
    for figure in FIGURES:
        row = report["table"][figure]
        assert {"netra", "socketio", "websockets", "netra/socketio", "netra/websockets"} <= set(row)
        assert row["netra"] == row["netra"], figure  # a number, not NaN
        # The printed report shows the figure on one line with the peers' figures and ratios.
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith(figure))
        assert line.count("x") >= 2, line
    assert "lost 0, duplicated 0" in done.stdout
    assert ("paced:" if mode else "burst:") in done.stdout


SCALE = BENCH.with_name("realtime_scale.py")


def test_the_scale_bench_cuts_every_client_and_each_resumes_on_either_replica(
    tmp_path: Path,
) -> None:
    """``bench/realtime_scale.py`` on two API replicas: every socket got its user's run, then
    every connection was cut at once and each client reconnected and resumed from a few events
    before the end, getting exactly the missing ones, in order (no failure of any kind)."""
    out = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, str(SCALE), "--sockets", "40", "--users", "8", "--apis", "2",
         "--storm", "--json", str(out), "--database-url", postgres_server_url(),
         "--redis-url", redis_server_url()],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())["figures"]
    assert figures["sockets"] == 40 and figures["apis"] == 2
    assert figures["connect failures"] == figures["run failures"] == 0, figures
    assert figures["storm failures"] == 0, figures
    assert figures["RSS of the APIs MiB"] > 0 and figures["connects/s"] > 0, figures
