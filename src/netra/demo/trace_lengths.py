"""Token lengths sampled from the Azure LLM inference trace 2023 (CC-BY-4.0).

Source: Azure/AzurePublicDataset, `AzureLLMInferenceTrace_code` and `_conv` (one hour of
production requests, 2023-11-16); cite: Patel et al., "Splitwise: Efficient generative LLM
inference using phase splitting", ISCA 2024. 3,000 (ContextTokens, GeneratedTokens) pairs
drawn uniformly at random (seed 20231116) from each trace, kept as pairs so that prompt and
completion lengths stay correlated. The demo workload draws its token counts from here; no
identity, model or price comes from the traces.

The pairs live in the packaged data file ``data/azure_trace_lengths.csv`` (columns ``trace``,
``input_tokens``, ``output_tokens``), read on first use.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources

DATA_FILE = "azure_trace_lengths.csv"


@cache
def _table() -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    text = resources.files("netra.demo").joinpath("data", DATA_FILE).read_text("utf-8")
    found: dict[str, tuple[list[int], list[int]]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        inputs, outputs = found.setdefault(row["trace"], ([], []))
        inputs.append(int(row["input_tokens"]))
        outputs.append(int(row["output_tokens"]))
    return {name: (tuple(i), tuple(o)) for name, (i, o) in found.items()}


def pairs(name: str) -> tuple[list[int], list[int]]:
    """(input tokens, output tokens) of the ``code`` or ``conv`` sample: pair i is
    (inputs[i], outputs[i])."""
    inputs, outputs = _table()[name]
    return list(inputs), list(outputs)
