"""Detector accuracy against the labels of ``netra demo-data``, on seeds the detectors were
never tuned on (tuning used seeds 1-8): precision and recall >= 0.9 for every finding kind,
pooled over three workloads; and a matched finding covers the labelled records (within 10 %)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from netra.analysis.engine import analyze
from netra.analysis.findings import COST_MISMATCH, KINDS
from netra.demo.workload import generate

SEEDS = (424242, 515151, 606060)
RECORDS = 20_000


def _matches(label_scope: dict[str, Any], finding_scope: dict[str, Any]) -> bool:
    return all(finding_scope.get(k) == v for k, v in label_scope.items())


Scores = dict[str, tuple[float, float, int, int]]


def accuracy(records: int, seeds: tuple[int, ...]) -> tuple[Scores, list[str]]:
    """kind -> (precision, recall, findings, labels) pooled over the seeds, and the matched
    findings whose affected records differ from the labelled ones by more than 10 %."""
    tp_found: dict[str, int] = defaultdict(int)
    tp_labels: dict[str, int] = defaultdict(int)
    n_found: dict[str, int] = defaultdict(int)
    n_labels: dict[str, int] = defaultdict(int)
    coverage: list[str] = []
    for seed in seeds:
        df, labels = generate(records, seed)
        report = analyze(df)
        for kind in (*KINDS, COST_MISMATCH):
            expected = [w for w in labels["waste"] if w["kind"] == kind]
            found = [f for f in report["findings"] if f["kind"] == kind]
            n_found[kind] += len(found)
            n_labels[kind] += len(expected)
            tp_found[kind] += sum(
                any(_matches(w["scope"], f["scope"]) for w in expected) for f in found
            )
            for waste in expected:
                hits = [f for f in found if _matches(waste["scope"], f["scope"])]
                tp_labels[kind] += bool(hits)
                if hits and kind != "spend_anomaly":  # an anomaly covers the whole day
                    got = hits[0]["affected_records"]
                    if abs(got - waste["records"]) > 0.1 * waste["records"]:
                        coverage.append(f"{kind} {waste['scope']}: {got} vs {waste['records']}")
    scores = {
        kind: (
            tp_found[kind] / n_found[kind] if n_found[kind] else 1.0,
            tp_labels[kind] / n_labels[kind] if n_labels[kind] else 1.0,
            n_found[kind],
            n_labels[kind],
        )
        for kind in (*KINDS, COST_MISMATCH)
    }
    return scores, coverage


@pytest.fixture(scope="module")
def measured() -> tuple[Scores, list[str]]:
    return accuracy(RECORDS, SEEDS)


@pytest.mark.parametrize("kind", [*KINDS, COST_MISMATCH])
def test_precision_and_recall_per_kind(kind: str, measured: tuple[Scores, list[str]]) -> None:
    precision, recall, n_found, n_labels = measured[0][kind]
    assert n_labels >= 1, f"the demo data must inject {kind}"
    assert precision >= 0.9, f"{kind}: precision {precision:.2f} ({n_found} findings)"
    assert recall >= 0.9, f"{kind}: recall {recall:.2f} ({n_labels} labels)"


def test_matched_findings_cover_the_labelled_records(measured: tuple[Scores, list[str]]) -> None:
    assert measured[1] == []
