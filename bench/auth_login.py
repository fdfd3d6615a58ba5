"""Auth benchmark: argon2id profiles, and whether a login's answer time tells an unknown e-mail
from a wrong password (account enumeration by timing).

    .venv/bin/python bench/auth_login.py [--samples 40]

Part 1 hashes and verifies with three argon2id profiles; the ratio is against OWASP's minimum
(19 MiB, t=2, p=1, Netra's default). Part 2 runs the auth service in-process on a SQLite file
and times POST /auth/login for a wrong password and for an unknown address, interleaved; the
ratio of their medians should be close to 1.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from netra.apps.auth_service import create_app
from netra.auth.passwords import Passwords
from netra.core.settings import Settings
from support.accounts import migrated, new_email, signup
from support.apps import running_app

PROFILES = {
    "OWASP minimum 19 MiB t=2 p=1 (default)": (2, 19456, 1),
    "OWASP 46 MiB t=1 p=1": (1, 47104, 1),
    "argon2-cffi default 64 MiB t=3 p=4": (3, 65536, 4),
}


def bench_profiles(samples: int) -> None:
    base = None
    for label, (t, m, p) in PROFILES.items():
        pw = Passwords(time_cost=t, memory_kib=m, parallelism=p)
        digest = pw.hash_sync("correct-Horse-7-battery")
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            pw.verify_sync(digest, "correct-Horse-7-battery")
            times.append(time.perf_counter() - start)
        median = statistics.median(times) * 1000
        base = base or median
        print(f"{label:42s} verify median {median:7.1f} ms  ratio {median / base:4.2f}")


async def bench_enumeration(samples: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = await migrated(
            Settings(
                env="test",
                data_dir=Path(tmp),
                login_max_failures=10**6,
                login_ip_max_failures=10**6,
            )
        )
        async with running_app(create_app(settings)) as client:
            acct = await signup(client)
            timings: dict[str, list[float]] = {"wrong password": [], "unknown e-mail": []}
            for i in range(samples * 2):
                kind = "wrong password" if i % 2 == 0 else "unknown e-mail"
                email = acct["email"] if kind == "wrong password" else new_email("ghost")
                start = time.perf_counter()
                r = await client.post("/auth/login", json={"email": email, "password": "x" * 14})
                timings[kind].append(time.perf_counter() - start)
                assert r.status_code == 401
    wrong = statistics.median(timings["wrong password"]) * 1000
    unknown = statistics.median(timings["unknown e-mail"]) * 1000
    print(f"login, wrong password: median {wrong:6.1f} ms")
    print(f"login, unknown e-mail: median {unknown:6.1f} ms  ratio {unknown / wrong:4.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    bench_profiles(args.samples)
    asyncio.run(bench_enumeration(args.samples))


if __name__ == "__main__":
    main()
