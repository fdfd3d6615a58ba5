"""Usage files and tokens for the usage tests: CSV written row by row (never held whole)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

HEADER = (
    "timestamp,provider,model,input_tokens,output_tokens,cached_input_tokens,latency_ms,"
    "status,feature,user,prompt_hash,request_id\n"
)
MODELS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"))
FEATURES = ("chat", "search", "summarise", "classify")


def csv_row(i: int, *, prefix: str = "req") -> str:
    provider, model = MODELS[i % len(MODELS)]
    ts = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(seconds=i * 2)
    return (
        f"{ts:%Y-%m-%dT%H:%M:%SZ},{provider},{model},{1000 + i % 500},{100 + i % 50},"
        f"{i % 200},{200 + i % 900},ok,{FEATURES[i % len(FEATURES)]},user-{i % 97},"
        f"h{i % 1000},{prefix}-{i}\n"
    )


def write_csv(path: Path, rows: int, *, prefix: str = "req", bad_every: int = 0) -> Path:
    """A usage CSV of ``rows`` data rows; with ``bad_every`` > 0, every such row is broken
    (negative input_tokens) so its line must be reported."""
    with path.open("w", buffering=1 << 20) as out:
        out.write(HEADER)
        for i in range(rows):
            line = csv_row(i, prefix=prefix)
            if bad_every and i % bad_every == bad_every - 1:
                line = line.replace(f",{1000 + i % 500},", ",-5,", 1)
            out.write(line)
    return path
