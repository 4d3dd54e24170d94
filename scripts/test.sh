#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, lint, type-check, tests, official conformance suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
bash scripts/interop-setup.sh # third-party MCP clients for tests/interop, cached in .cache/interop
.venv/bin/python -m pytest -q
if [ -f scripts/conformance.sh ]; then
  echo "== conformance (@modelcontextprotocol/conformance)"
  bash scripts/conformance.sh
fi
