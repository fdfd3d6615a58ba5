"""``netra analyze`` and ``netra demo-data``: outputs and exit codes (API.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netra.demo.cli import demo_data_command
from netra.reports.cli import analyze_command

HEADER = "timestamp,provider,model,input_tokens,output_tokens,feature,request_id\n"


def _write(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_demo_data_then_analyze_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.csv"
    assert demo_data_command(3000, 11, out) == 0
    labels = json.loads((tmp_path / "demo.csv.labels.json").read_text())
    assert labels["records"] == 3000 and labels["waste"]
    capsys.readouterr()
    assert analyze_command([out], "json", None) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["records"] == 3000
    assert report["total_cost_usd"] > 0 and report["findings"]


def test_bad_rows_are_reported_and_good_rows_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path / "u.csv",
        "2026-11-01T10:00:00Z,openai,gpt-4o,100,10,a,r1",
        "2026-11-01T10:00:01Z,openai,gpt-4o,-3,10,a,r2",
        "2026-11-01T10:00:02Z,openai,gpt-4o,100,10,a,r3",
    )
    assert analyze_command([path], "json", None) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["records"] == 2
    assert f"{path}:3: input_tokens:" in captured.err


def test_duplicate_request_ids_across_files_count_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = "2026-11-01T10:00:00Z,openai,gpt-4o,100,10,a,same"
    first = _write(tmp_path / "a.csv", row)
    second = tmp_path / "b.jsonl"
    second.write_text(
        json.dumps(
            {
                "timestamp": 1761991200,
                "provider": "openai",
                "model": "gpt-4o",
                "input_tokens": 100,
                "output_tokens": 10,
                "request_id": "same",
            }
        )
        + "\n"
    )
    assert analyze_command([first, second], "json", None) == 0
    assert json.loads(capsys.readouterr().out)["records"] == 1


def test_exit_2_on_bad_input_naming_file_line_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    all_bad = _write(tmp_path / "bad.csv", "yesterday,openai,gpt-4o,1,1,a,r")
    assert analyze_command([all_bad], "table", None) == 2
    err = capsys.readouterr().err
    assert f"{all_bad}:2: timestamp:" in err
    assert analyze_command([tmp_path / "missing.csv"], "json", None) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err
    assert analyze_command([all_bad], "xml", None) == 2
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert analyze_command([empty], "json", None) == 2


def test_html_and_table_outputs(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "u.csv",
        *[f"2026-11-0{1 + i % 5}T10:00:00Z,openai,gpt-4o,100,10,<script>,r{i}" for i in range(60)],
    )
    html_out = tmp_path / "report.html"
    assert analyze_command([path], "html", html_out) == 0
    page = html_out.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    table_out = tmp_path / "report.txt"
    assert analyze_command([path], "table", table_out) == 0
    text = table_out.read_text()
    assert "Findings" in text and "gpt-4o" in text


def test_analyze_reads_any_source_and_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from support import usage_exports as ux

    export = ux.anthropic_usage(60, 3, "json")
    path = tmp_path / export.filename
    path.write_bytes(export.body)
    assert analyze_command([path], "json", None) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["records"] == export.expect.records
    assert f"{path}: read as anthropic-usage" in captured.err
    assert analyze_command([path], "json", None, source="anthropic-usage") == 0
    capsys.readouterr()
    assert analyze_command([path], "json", None, source="litellm") == 2
    assert "not a litellm file" in capsys.readouterr().err
    assert analyze_command([path], "json", None, source="nope") == 2
    unknown = tmp_path / "x.csv"
    unknown.write_text("a,b\n1,2\n")
    assert analyze_command([unknown], "json", None) == 2
    assert "cannot tell which export" in capsys.readouterr().err
