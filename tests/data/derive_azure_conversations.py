"""Derive ``azure_conversations.csv`` from the Azure LLM inference trace 2023 (conversation
service), run once by hand: ``python tests/data/derive_azure_conversations.py TRACE.csv``.

Source: Azure/AzurePublicDataset, ``AzureLLMInferenceTrace_conv`` (one hour of production
requests, 2023-11-16), CC-BY-4.0; cite: Patel et al., "Splitwise: Efficient generative LLM
inference using phase splitting", ISCA 2024. The trace has no conversation ids: each request is
assigned at random (seed 20231116) to one of 2,000 conversations, keeping its real arrival time
and token counts; the first 250 conversations with at least two turns are kept. A turn's
``new_tokens`` is the request's ContextTokens (what the turn adds to the conversation) and
``output_tokens`` its GeneratedTokens; ``offset_s`` is seconds since the trace's first request.
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import datetime
from pathlib import Path

CONVERSATIONS = 2_000
KEPT = 250


def main(trace: Path, out: Path) -> None:
    rng = random.Random(20231116)
    rows = []
    with trace.open(newline="") as handle:
        for row in csv.DictReader(handle):
            at = datetime.fromisoformat(row["TIMESTAMP"][:26])
            rows.append((at, int(row["ContextTokens"]), int(row["GeneratedTokens"])))
    start = min(at for at, _, _ in rows)
    turns: dict[int, list[tuple[float, int, int]]] = {}
    for at, context, generated in sorted(rows):
        conv = rng.randrange(CONVERSATIONS)
        turns.setdefault(conv, []).append(((at - start).total_seconds(), context, generated))
    kept = [c for c in sorted(turns) if len(turns[c]) >= 2][:KEPT]
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["conversation", "turn", "offset_s", "new_tokens", "output_tokens"])
        for conv in kept:
            for i, (offset, context, generated) in enumerate(turns[conv]):
                writer.writerow([f"c{conv}", i, f"{offset:.3f}", context, generated])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).with_name("azure_conversations.csv"))
