#!/usr/bin/env bash
# Install the third-party MCP clients that tests/interop drives, each where its pins cannot clash
# with ours (idempotent: a stamp per environment records what is installed; a re-run that finds
# them all current takes well under a second).
#
#   bash scripts/interop-setup.sh            # all of them, in parallel
#   bash scripts/interop-setup.sh mcp1 npm   # only these
#
# .cache/interop/mcp1     venv: mcp 1.27.x, a 2025-11-25 client (initialize handshake, session id)
# .cache/interop/fastmcp  venv: fastmcp 4.2.3 + fastmcp-tasks 4.1.4 (the latter pins fastmcp-slim 4.1.4;
#                         installed with uv and an override to 4.2.3, as FastMCP's own docs for mixed
#                         releases do)
# .cache/interop/npm      node_modules: @modelcontextprotocol/client 2.x, ext-tasks, inspector (CLI)
#
# Needs PyPI and npm. Environment: PYTHON (interpreter for the venvs; default python3),
# INTEROP_CACHE (default .cache/interop). Each environment is installed under a lock (flock), so
# two runs, or another suite sharing mcp1/npm, never install into one at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${INTEROP_CACHE:-$ROOT/.cache/interop}
case "$CACHE" in /*) ;; *) CACHE=$ROOT/$CACHE ;; esac
PY=${PYTHON:-python3}
mkdir -p "$CACHE"

MCP1_SPEC="mcp==1.27.*"
FASTMCP_SPEC="fastmcp==4.2.3 fastmcp-tasks==4.1.4"
FASTMCP_OVERRIDE="fastmcp-slim[client,server]==4.2.3"
UV_SPEC="uv>=0.5,<1"
NPM_SPEC="@modelcontextprotocol/client@2.4.0 @modelcontextprotocol/ext-tasks@0.2.2 @modelcontextprotocol/inspector@2.12.0"

log() { printf '== interop: %s\n' "$*" >&2; }
# pip warns about every local find-links folder that lacks a package; keep the rest of its stderr.
quiet_pip() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

# locked NAME WANT CMD...: run CMD under NAME's lock unless NAME's stamp already says WANT and
# `present_NAME` finds the packages in place. A stamp is a list of lines, one per installer that
# shares the environment, so two suites can add what each needs to one environment without undoing
# the other's record; the presence check catches one that reinstalled the environment without ours.
locked() {
  local name=$1 want=$2
  shift 2
  local stamp=$CACHE/$name.installed
  if grep -qxF "$want" "$stamp" 2>/dev/null && "present_$name"; then return 0; fi
  (
    flock 9
    if grep -qxF "$want" "$stamp" 2>/dev/null && "present_$name"; then exit 0; fi
    log "installing $name: $want"
    "$@"
    grep -qxF "$want" "$stamp" 2>/dev/null || echo "$want" >>"$stamp"
  ) 9>"$CACHE/$name.lock"
}

has() { compgen -G "$1" >/dev/null; }
present_mcp1() { has "$CACHE/mcp1/lib/python3*/site-packages/mcp-1.27.*.dist-info"; }
present_fastmcp() {
  has "$CACHE/fastmcp/lib/python3*/site-packages/fastmcp-4.2.3.dist-info" &&
    has "$CACHE/fastmcp/lib/python3*/site-packages/fastmcp_tasks-4.1.4.dist-info"
}
present_npm() {
  local spec pkg version
  for spec in $NPM_SPEC; do
    pkg=${spec%@*}
    version=${spec##*@}
    grep -q "\"version\": \"$version\"" "$CACHE/npm/node_modules/$pkg/package.json" 2>/dev/null || return 1
  done
}

venv() {
  local dir=$1
  [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
}

install_mcp1() {
  venv "$CACHE/mcp1"
  # PIP_CONSTRAINT= : a machine-wide constraints file must not reach into this private venv.
  PIP_CONSTRAINT= quiet_pip "$CACHE/mcp1/bin/python" -m pip install --quiet --disable-pip-version-check "$MCP1_SPEC"
}

install_fastmcp() {
  local dir=$CACHE/fastmcp
  venv "$dir"
  PIP_CONSTRAINT= quiet_pip "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$UV_SPEC"
  printf '%s\n' "$FASTMCP_OVERRIDE" >"$dir/overrides.txt"
  # shellcheck disable=SC2086
  "$dir/bin/uv" pip install --quiet --python "$dir/bin/python" --override "$dir/overrides.txt" $FASTMCP_SPEC
}

install_npm() {
  command -v npm >/dev/null || {
    echo "interop: npm is needed for the TypeScript clients" >&2
    return 2
  }
  local dir=$CACHE/npm
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || printf '{"name": "offload-interop-clients", "private": true}\n' >"$dir/package.json"
  # shellcheck disable=SC2086
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error $NPM_SPEC)
}

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(mcp1 fastmcp npm)
pids=()
for name in "${want[@]}"; do
  case "$name" in
    mcp1) locked mcp1 "mcp1 $MCP1_SPEC" install_mcp1 & ;;
    fastmcp) locked fastmcp "fastmcp $FASTMCP_SPEC override $FASTMCP_OVERRIDE" install_fastmcp & ;;
    npm) locked npm "interop $NPM_SPEC" install_npm & ;;
    *)
      echo "interop: unknown environment $name (mcp1, fastmcp, npm)" >&2
      exit 2
      ;;
  esac
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
