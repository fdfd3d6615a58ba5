#!/usr/bin/env bash
# Install everything the suite needs on a fresh machine, lint, type-check, then run every test:
# unit, integration (real PostgreSQL and Redis) and e2e (real processes, browser, OIDC provider).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
scripts/test-deps.sh

echo "== ruff"; ruff check src tests bench; ruff format --check src tests bench
echo "== mypy"; mypy
echo "== pytest"
exec pytest tests "$@"
