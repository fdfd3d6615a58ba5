#!/usr/bin/env bash
# Install Netra into ./.venv (first run only) and start it with a demo organisation.
# Extra arguments go to `netra serve` (for example --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
exec netra serve --demo "$@"
