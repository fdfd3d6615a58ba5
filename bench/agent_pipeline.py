"""Agent pipeline overhead: a whole run (triage, data, optimizer, actions, reporting, every
event) against the engine's bare ``analyze`` on the same records, measured in the same run.

    .venv/bin/python bench/agent_pipeline.py [--records 20000] [--seed 3] [--repeat 3]

In-process, no database: records come from ``netra.demo.workload``; events go to an
in-memory sink. Prints the median of each and their ratio (run / analyze): the price of the
agents, the breakdown tools and the wording on top of the analysis itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from netra.agents.component import build_pipeline
from netra.analysis.engine import analyze
from netra.analysis.frame import frame_from_records
from netra.core.settings import Settings
from netra.demo.workload import generate
from netra.records.record import UsageRecord
from support.agent_fakes import MemoryDeps, RecordingSink, request


def _records(n: int, seed: int) -> list[UsageRecord]:
    frame, _ = generate(n, seed)
    fields = set(UsageRecord.__dataclass_fields__)
    return [
        UsageRecord(**{k: v for k, v in row.items() if k in fields})
        for row in frame.iter_rows(named=True)
    ]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    records = _records(args.records, args.seed)
    settings = Settings(env="test", data_dir=Path("/tmp/netra-bench"))
    pipeline = build_pipeline(settings)

    bare: list[float] = []
    runs: list[float] = []
    events = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        analyze(frame_from_records(records))
        bare.append(time.perf_counter() - t0)

        sink, mem = RecordingSink(), MemoryDeps(records)
        t0 = time.perf_counter()
        result = await pipeline(
            request("where is my money going and how do I cut it?", "enterprise"),
            sink,
            mem.deps(),
        )
        runs.append(time.perf_counter() - t0)
        assert result.status == "succeeded", result.error
        events = len(sink.events)

    a, r = statistics.median(bare), statistics.median(runs)
    print(f"records: {len(records):,}; events per run: {events}")
    print(f"engine analyze (baseline): {a * 1000:8.1f} ms")
    print(f"whole agent run:           {r * 1000:8.1f} ms")
    print(f"ratio run / analyze:       {r / a:8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
