#!/usr/bin/env bash
# The main job on a fresh machine: install offload, then run the narrated demo (SQLite, no server to install).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/offload demo "$@"
