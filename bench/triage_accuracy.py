"""Accuracy of triage and follow-up resolution on the held-back phrasings (never tuned against):
`python bench/triage_accuracy.py`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.heldout import followup_score, triage_score


def main() -> None:
    for name, score in (("triage intents", triage_score()), ("follow-ups", followup_score())):
        print(f"{name}: {score.right}/{score.total} = {score.accuracy:.0%}")
        for text, want, got in score.misses:
            print(f"  miss: {text!r}: expected {want}, got {got}")


if __name__ == "__main__":
    main()
