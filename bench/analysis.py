"""Analysis benchmark: N usage records (default 1,000,000) -> the full analysis report.

Measures, in one run on the same data (a ``netra demo-data`` workload):
  1. the full report (``analysis.engine.analyze``: pricing, breakdowns, the seven detectors,
     overlap-safe savings, forecast), best and median of ``--repeat`` runs;
  2. the breakdowns alone with the engine (catalogue pricing + totals + by model, provider,
     feature and day), and the same breakdowns in a straightforward pandas implementation
     (same catalogue rates, merged per (provider, model, day, batch), vectorised arithmetic,
     ``groupby``); both must give the same totals;
  3. optionally (``--parse``) the file -> report time of ``netra analyze`` (the records
     written as a netra CSV, read by the fast parser, deduplicated, analysed) beside the
     engine-only time; the fast parser alone, the careful row parser (``iter_csv``) on a
     sample for comparison, and the ingest rate into PostgreSQL (``bench/ingest.py``, run as
     a child process unless ``--no-ingest``).

Goal: full report <= 5 s on 2 cores; 1M-row file -> report <= 5 s; engine breakdowns >= 5x
faster than pandas.

    .venv/bin/python bench/analysis.py --records 1000000 --threads 2 --parse \
        --out bench/results/analysis.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="POLARS_MAX_THREADS")
    parser.add_argument("--parse", action="store_true", help="also time file -> report")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest rate")
    parser.add_argument(
        "--rollup", action="store_true", help="also time the report on hourly rollup rows"
    )
    parser.add_argument("--ingest-records", type=int, default=200_000)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    return parser.parse_args()


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def pandas_breakdowns(pdf: Any, catalogue: Any) -> dict[str, Any]:
    """The report's totals and four breakdowns, written the way a pandas user would."""
    import numpy as np
    import pandas as pd

    from netra.pricing.catalogue import normalize_provider

    df = pdf.copy()
    df["provider_n"] = df["provider"].map(normalize_provider)
    df["day"] = df["timestamp"].dt.floor("D")
    keys = df[["provider_n", "model", "day", "batch"]].drop_duplicates()
    rows = []
    for provider, model, day, batch in keys.itertuples(index=False):
        model_id = catalogue.resolve(provider, model)
        at = day.to_pydatetime().replace(tzinfo=UTC)
        rates = catalogue.rates(provider, model_id, at, batch=bool(batch)) if model_id else None
        row: dict[str, Any] = {"provider_n": provider, "model": model, "day": day, "batch": batch}
        row["model_n"] = model_id or model.lower()
        for unit in ("input", "cache_read", "cache_write", "output"):
            rate = getattr(rates, unit) if rates else None
            row[f"{unit}_b"] = rate.base if rate else np.nan
            tier = rate.tiers[0] if rate and rate.tiers else (np.inf, np.nan)
            row[f"{unit}_s"], row[f"{unit}_p"] = tier
        rows.append(row)
    df = df.merge(pd.DataFrame(rows), on=["provider_n", "model", "day", "batch"], how="left")

    def rate(unit: str) -> Any:
        return np.where(df["input_tokens"] > df[f"{unit}_s"], df[f"{unit}_p"], df[f"{unit}_b"])

    uncached = df["input_tokens"] - df["cached_input_tokens"] - df["cache_write_tokens"]
    df["catalogue_cost"] = (
        uncached * rate("input")
        + df["cached_input_tokens"] * rate("cache_read")
        + df["cache_write_tokens"] * rate("cache_write")
        + df["output_tokens"] * rate("output")
    )
    df["cost"] = df["cost_usd"].fillna(df["catalogue_cost"])
    out: dict[str, Any] = {"total_cost_usd": float(df["cost"].sum())}
    for name, key in (
        ("by_model", ["model_n", "provider_n"]),
        ("by_provider", ["provider_n"]),
        ("by_feature", ["feature"]),
        ("by_day", ["day"]),
    ):
        table = (
            df.groupby(key, dropna=False)
            .agg(
                records=("cost", "size"),
                cost_usd=("cost", "sum"),
                input_tokens=("input_tokens", "sum"),
                output_tokens=("output_tokens", "sum"),
                cached_input_tokens=("cached_input_tokens", "sum"),
                unpriced_records=("cost", lambda c: int(c.isna().sum())),
            )
            .reset_index()
            .sort_values("cost_usd", ascending=False)
        )
        out[name] = table.to_dict("records")
    return out


def _file_to_report(frame: Any, args: argparse.Namespace, engine_s: float) -> dict[str, Any]:
    """``netra analyze FILE`` minus printing: read, deduplicate, analyse; and its parts."""
    from netra.analysis.engine import analyze
    from netra.demo.workload import write
    from netra.reports.cli import load_files
    from netra.usage.fast_parse import parse_csv_bytes
    from netra.usage.parse import iter_csv

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "usage.csv"
        write(frame, {}, path)
        out["csv_mib"] = round(path.stat().st_size / 2**20, 1)
        runs, cpu_runs = [], []
        for _ in range(args.repeat):
            start, cpu = time.perf_counter(), time.process_time()
            loaded, rejected = load_files([path])
            analyze(loaded)
            runs.append(time.perf_counter() - start)
            cpu_runs.append(time.process_time() - cpu)
        data = path.read_bytes()
        parse_runs, parse_cpu = [], []
        for _ in range(args.repeat):
            start, cpu = time.perf_counter(), time.process_time()
            parsed, _ = parse_csv_bytes(data)
            parse_runs.append(time.perf_counter() - start)
            parse_cpu.append(time.process_time() - cpu)
        sample = 200_000
        lines = data.decode().splitlines(keepends=True)[: sample + 1]
        start = time.perf_counter()
        careful = sum(1 for _ in iter_csv(lines))
        careful_rate = careful / (time.perf_counter() - start)
    rows = parsed.height
    out.update(
        {
            "rows": rows,
            "rejected": rejected,
            "file_to_report_s": {
                "best": round(min(runs), 3),
                "median": round(statistics.median(runs), 3),
                "cpu_s_median": round(statistics.median(cpu_runs), 3),
            },
            "engine_only_s_median": round(engine_s, 3),
            "fast_parse_s_median": round(statistics.median(parse_runs), 3),
            "fast_parse_rows_per_s": int(rows / statistics.median(parse_runs)),
            "fast_parse_rows_per_cpu_s": int(rows / statistics.median(parse_cpu)),
            "careful_iter_csv_rows_per_s": int(careful_rate),
        }
    )
    print(
        f"file -> report ({out['csv_mib']} MiB CSV, {rows:,} rows): median "
        f"{statistics.median(runs):.2f} s (best {min(runs):.2f} s, CPU "
        f"{statistics.median(cpu_runs):.2f} s) vs engine only {engine_s:.2f} s; fast parse "
        f"{out['fast_parse_rows_per_s']:,} rows/s ({out['fast_parse_rows_per_cpu_s']:,} per CPU "
        f"s), careful iter_csv {int(careful_rate):,} rows/s",
        flush=True,
    )
    return out


def _rollup(frame: Any, single: dict[str, Any], repeat: int) -> dict[str, Any]:
    """The same calls as hourly rollup rows (per provider, model, feature, status, batch: what
    a rollup kept at ingest would hold): the report's time and size, and its totals."""
    from netra.analysis.engine import analyze
    from netra.analysis.rollups import roll_up

    start = time.perf_counter()
    rolled = roll_up(frame, "1h", ("provider", "model", "feature", "status", "batch"))
    build_s = time.perf_counter() - start
    times, report = _timed(lambda: analyze(rolled), repeat)
    out = {
        "rows": rolled.height,
        "calls": report["requests"],
        "rollup_build_s": round(build_s, 3),
        "report_s_median": round(statistics.median(times), 3),
        "frame_mib": round(rolled.estimated_size() / 2**20, 1),
        "single_frame_mib": round(frame.estimated_size() / 2**20, 1),
        "same_total": abs(report["total_cost_usd"] - single["total_cost_usd"])
        <= 1e-6 * max(1.0, single["total_cost_usd"]),
        "findings": sorted({f["kind"] for f in report["findings"]}),
    }
    print(
        f"hourly rollups: {rolled.height:,} rows for {report['requests']:,} calls "
        f"({out['frame_mib']} MiB vs {out['single_frame_mib']} MiB), report "
        f"{out['report_s_median']:.2f} s, same total: {out['same_total']}, findings "
        f"{', '.join(out['findings'])}",
        flush=True,
    )
    return out


def _ingest(records: int) -> dict[str, Any]:
    """``bench/ingest.py`` in a child process (it needs PostgreSQL); its rates, parsed."""
    import re
    import subprocess

    script = Path(__file__).with_name("ingest.py")
    done = subprocess.run(
        [sys.executable, str(script), "--records", str(records), "--naive", "2000"],
        capture_output=True,
        text=True,
        check=False,
    )
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return {"error": done.returncode}
    line = re.compile(r"^\s{2}(.+?)\s+[\d,]+ rows\s+[\d.]+ s\s+([\d,]+) rows/s\b", re.M)
    rates = {label: int(rate.replace(",", "")) for label, rate in line.findall(done.stdout)}
    return {"records": records, "rows_per_s": rates}


def main() -> int:
    args = _args()
    os.environ["POLARS_MAX_THREADS"] = str(args.threads)  # before polars is imported
    import pandas as pd
    import polars as pl

    from netra.analysis import breakdowns
    from netra.analysis.engine import analyze
    from netra.demo.workload import generate
    from netra.pricing.catalogue import Catalogue, price_frame

    figures: dict[str, Any] = {
        "records": args.records,
        "seed": args.seed,
        "polars_threads": pl.thread_pool_size(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "pandas": pd.__version__,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    start = time.perf_counter()
    frame, _ = generate(args.records, args.seed)
    figures["generate_s"] = round(time.perf_counter() - start, 3)
    print(f"generated {frame.height:,} records in {figures['generate_s']:.2f} s", flush=True)

    cpu = time.process_time()
    times, report = _timed(lambda: analyze(frame), args.repeat)
    figures["full_report_s"] = {
        "runs": [round(t, 3) for t in times],
        "best": round(min(times), 3),
        "median": round(statistics.median(times), 3),
        "cpu_s_mean": round((time.process_time() - cpu) / args.repeat, 3),
    }
    figures["findings"] = len(report["findings"])
    print(
        f"full report: best {min(times):.2f} s, median {statistics.median(times):.2f} s, "
        f"CPU {figures['full_report_s']['cpu_s_mean']:.2f} s ({len(report['findings'])} findings)",
        flush=True,
    )

    def engine_breakdowns() -> dict[str, Any]:
        """What ``GET /usage/summary`` and the agent's tools run: priced per aggregate."""
        by = ["model", "provider", "feature", "day"]
        tables = breakdowns.breakdowns_of_usage(frame, by, catalogue=Catalogue())
        out: dict[str, Any] = {f"by_{k}": v for k, v in tables.items()}
        out["total_cost_usd"] = sum(row["cost_usd"] for row in tables["provider"])
        return out

    def engine_per_row() -> dict[str, Any]:
        """What the full report runs: every row priced, then the four breakdowns."""
        priced = price_frame(frame, Catalogue())
        out: dict[str, Any] = {"total_cost_usd": float(priced["cost"].sum())}
        out.update(breakdowns.report_breakdowns(priced))
        return out

    # Plain NumPy-backed columns (object strings), as pandas.read_csv would give them.
    pdf = pd.DataFrame({c: frame[c].to_numpy() for c in frame.columns if c != "timestamp"})
    pdf["timestamp"] = pd.to_datetime(frame["timestamp"].dt.epoch("us").to_numpy(), unit="us")
    # Interleaved, so that load from other jobs on the machine hits both alike.
    p_times, e_times, r_times, p_cpu, e_cpu = [], [], [], [], []
    for _ in range(args.repeat):
        cpu = time.process_time()
        (elapsed,), p_result = _timed(lambda: pandas_breakdowns(pdf, Catalogue()), 1)
        p_times.append(elapsed)
        p_cpu.append(time.process_time() - cpu)
        cpu = time.process_time()
        (elapsed,), e_result = _timed(engine_breakdowns, 1)
        e_times.append(elapsed)
        e_cpu.append(time.process_time() - cpu)
        (elapsed,), r_result = _timed(engine_per_row, 1)
        r_times.append(elapsed)
    same = all(
        abs(p_result["total_cost_usd"] - other["total_cost_usd"])
        < 1e-5 * max(1.0, other["total_cost_usd"])
        and all(len(p_result[k]) == len(other[k]) for k in ("by_model", "by_feature", "by_day"))
        for other in (e_result, r_result)
    )
    ratio = statistics.median(p_times) / statistics.median(e_times)
    figures["breakdowns"] = {
        "engine_s": round(statistics.median(e_times), 3),
        "pandas_s": round(statistics.median(p_times), 3),
        "speedup": round(ratio, 2),
        "engine_per_row_s": round(statistics.median(r_times), 3),
        "speedup_per_row": round(statistics.median(p_times) / statistics.median(r_times), 2),
        "engine_cpu_s": round(statistics.median(e_cpu), 3),
        "pandas_cpu_s": round(statistics.median(p_cpu), 3),
        "speedup_cpu": round(statistics.median(p_cpu) / statistics.median(e_cpu), 2),
        "same_result": same,
    }
    print(
        f"breakdowns: engine {statistics.median(e_times):.2f} s, pandas "
        f"{statistics.median(p_times):.2f} s -> {ratio:.1f}x wall, "
        f"{statistics.median(p_cpu) / statistics.median(e_cpu):.1f}x CPU time "
        f"(same totals: {same}); per-row pricing path {statistics.median(r_times):.2f} s -> "
        f"{statistics.median(p_times) / statistics.median(r_times):.1f}x",
        flush=True,
    )

    if args.rollup:
        figures["rollup"] = _rollup(frame, report, args.repeat)
    if args.parse:
        figures["parse"] = _file_to_report(frame, args, statistics.median(times))
        if not args.no_ingest:
            figures["ingest"] = _ingest(args.ingest_records)

    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average {figures['load_average_after']} on {os.cpu_count()} CPUs")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
