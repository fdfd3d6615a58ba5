"""Triage and follow-up resolution on phrasings written once and never tuned against
(``tests/data/*_heldout.jsonl``). The accuracy is printed (``-s``; also
``python bench/triage_accuracy.py``); the floors catch a rule change that breaks what worked."""

from __future__ import annotations

from support.heldout import followup_score, triage_score


def test_triage_accuracy_on_held_back_phrasings() -> None:
    score = triage_score()
    print(f"\ntriage intents on held-back phrasings: {score.right}/{score.total} = "
          f"{score.accuracy:.0%}")  # fmt: skip
    assert score.total >= 40
    assert score.accuracy >= 0.7, score.misses


def test_followup_accuracy_on_held_back_phrasings() -> None:
    score = followup_score()
    print(f"\nfollow-ups on held-back phrasings: {score.right}/{score.total} = "
          f"{score.accuracy:.0%}")  # fmt: skip
    assert score.total >= 24
    assert score.accuracy >= 0.85, score.misses
