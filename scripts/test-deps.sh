#!/usr/bin/env bash
# System pieces the e2e tests use: Debian's Chromium (browser tests) and the npm packages of
# the OpenID Connect provider the OAuth test starts. Installed once; a no-op afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [[ -f tests/e2e/oidc/package.json && ! -d tests/e2e/oidc/node_modules ]]; then
  echo "== installing the test OpenID Connect provider (npm)"
  (cd tests/e2e/oidc && npm ci --no-audit --no-fund --silent)
fi
