"""Domains import downward only: the import-linter contracts of pyproject.toml hold (core imports
no domain, no domain imports apps, the layers records < pricing < analysis < usage < billing <
agents < reports/chat < apps), checked by the real ``lint-imports`` on the installed package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def _lint(config: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(config), "--cache-dir", str(cache)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_import_contracts_hold(tmp_path: Path) -> None:
    done = _lint(ROOT / "pyproject.toml", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Domains import downward only KEPT" in done.stdout
    assert "core imports no domain KEPT" in done.stdout
    assert "no domain imports apps or the command line KEPT" in done.stdout


def test_an_upward_import_is_reported(tmp_path: Path) -> None:
    # The same tool on a contract the code breaks on purpose (apps import every domain), so a
    # passing run above means the contracts were checked, not skipped.
    config = tmp_path / "upside_down.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "netra"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "upside down"\ntype = "layers"\nlayers = ["netra.core", "netra.apps"]\n'
    )
    done = _lint(config, tmp_path / "cache")
    assert done.returncode != 0
    assert "upside down BROKEN" in done.stdout
    assert "netra.apps" in done.stdout and "netra.core" in done.stdout
