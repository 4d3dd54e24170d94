#!/usr/bin/env bash
# Run the official MCP conformance suite (@modelcontextprotocol/conformance) against
# examples/conformance_server.py served by `offload serve`.
#
#   bash scripts/conformance.sh
#
# * Installs the suite and a Node 22 binary from npm into .cache/conformance/npm (once; the
#   suite needs Node >= 22, the system node may be older). Needs `npm` on PATH for that step.
# * Runs `server --suite pending` (every tasks-* scenario, plus other pending ones) and
#   `server --requirements 2026-07-28`; results go to .cache/conformance/results/.
# * Exits non-zero unless every tasks-* scenario passes (tasks-status-notifications may be
#   SKIPPED) and every required 2026-07-28 server scenario passes. Other pending scenarios
#   are reported, not enforced.
#
# Environment: PYTHON (interpreter with offload installed; default .venv/bin/python, else python3),
# CONFORMANCE_VERSION (default 0.2.0-alpha.12), CONFORMANCE_NODE (a node >= 22 to use instead of
# the npm one), CONFORMANCE_CACHE (default .cache/conformance), CONFORMANCE_TIMEOUT_MS (default 120000).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CACHE=${CONFORMANCE_CACHE:-$ROOT/.cache/conformance}
case "$CACHE" in /*) ;; *) CACHE=$ROOT/$CACHE ;; esac
SUITE_VERSION=${CONFORMANCE_VERSION:-0.2.0-alpha.12}
SUITE_FALLBACK=">=$SUITE_VERSION <0.2.0-beta" # a newer 0.2.0 alpha, should this one be unpublished
TIMEOUT_MS=${CONFORMANCE_TIMEOUT_MS:-120000}
NPM_DIR=$CACHE/npm
RESULTS=$CACHE/results

if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
elif [ -x .venv/bin/python ]; then
  PY=.venv/bin/python
else
  PY=python3
fi

log() { printf '== %s\n' "$*" >&2; }

# -- 1. the suite and Node 22, from npm (idempotent) --

case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os=unsupported ;; esac
case "$(uname -m)" in x86_64 | amd64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=unsupported ;; esac
NODE_PKG=node-$os-$arch
CLI=$NPM_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js
STAMP=$NPM_DIR/.offload-installed
WANT="conformance=$SUITE_VERSION node=${CONFORMANCE_NODE:-$NODE_PKG@22}"

if [ ! -f "$CLI" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  command -v npm >/dev/null || {
    echo "conformance: npm is needed to install the suite" >&2
    exit 2
  }
  log "installing @modelcontextprotocol/conformance@$SUITE_VERSION into $NPM_DIR"
  mkdir -p "$NPM_DIR"
  [ -f "$NPM_DIR/package.json" ] || printf '{"name": "offload-conformance-runner", "private": true}\n' >"$NPM_DIR/package.json"
  npm_install() { (cd "$NPM_DIR" && npm install --no-audit --no-fund --loglevel=error "$@"); }
  pkgs=()
  [ -n "${CONFORMANCE_NODE:-}" ] || pkgs+=("$NODE_PKG@22")
  if ! npm_install "@modelcontextprotocol/conformance@$SUITE_VERSION" "${pkgs[@]}"; then
    log "@modelcontextprotocol/conformance@$SUITE_VERSION unavailable; trying $SUITE_FALLBACK"
    npm_install "@modelcontextprotocol/conformance@$SUITE_FALLBACK" "${pkgs[@]}"
  fi
  [ -f "$CLI" ] || {
    echo "conformance: install finished but $CLI is missing" >&2
    exit 2
  }
  echo "$WANT" >"$STAMP"
fi

NODE=${CONFORMANCE_NODE:-$NPM_DIR/node_modules/$NODE_PKG/bin/node}
node_major=$("$NODE" -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 22 ]; then
  echo "conformance: $NODE is Node $node_major; the suite needs Node >= 22" >&2
  exit 2
fi
suite_version=$("$NODE" -p "require('$NPM_DIR/node_modules/@modelcontextprotocol/conformance/package.json').version")
log "suite $suite_version on Node $("$NODE" --version)"

# -- 2. the server under test --

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT/mcp
STORE_FILE=$RESULTS/tasks.db
SERVER_PID=

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
trap stop_server EXIT
trap 'exit 130' INT TERM

log "offload serve examples/conformance_server.py on $URL (log: $RESULTS/server.log)"
"$PY" -m offload serve examples/conformance_server.py --port "$PORT" --store "sqlite:///$STORE_FILE" \
  >"$RESULTS/server.log" 2>&1 &
SERVER_PID=$!

"$PY" - "$URL" "$SERVER_PID" <<'EOF' || { tail -n 30 "$RESULTS/server.log" >&2; exit 2; }
import json, os, sys, time, urllib.error, urllib.request

url, pid = sys.argv[1], int(sys.argv[2])
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "conformance.sh", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {}}}}).encode()
headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "server/discover"}
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("conformance: the server exited before it answered")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=2) as resp:
            if resp.status == 200:
                sys.exit(0)
    except (urllib.error.URLError, OSError):
        pass
    time.sleep(0.2)
sys.exit("conformance: the server did not answer within 60 s")
EOF

# -- 3. the suite --

suite() {
  local name=$1
  shift
  log "conformance server $* (log: $RESULTS/$name.log)"
  set +e
  "$NODE" "$CLI" server --url "$URL" "$@" --timeout "$TIMEOUT_MS" -o "$RESULTS/$name" >"$RESULTS/$name.log" 2>&1
  local rc=$?
  set -e
  echo "$rc" >"$RESULTS/$name.rc"
}

"$NODE" "$CLI" list --server >"$RESULTS/list-server.txt"
"$NODE" "$CLI" list --requirements 2026-07-28 >"$RESULTS/list-requirements.txt"
suite pending --suite pending
suite requirements --requirements 2026-07-28
stop_server

# -- 4. verdict from checks.json --

exec "$PY" - "$RESULTS" <<'EOF'
import json, re, sys
from pathlib import Path

results = Path(sys.argv[1])
STAMP = re.compile(r"-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


def listed(path: Path, header: str) -> list[str]:
    """Scenario names under `header` in a `conformance list` output, up to the next blank line."""
    names, inside = [], False
    for line in path.read_text().splitlines():
        if line.startswith(header):
            inside = True
        elif inside and line.strip().startswith("- "):
            names.append(line.strip()[2:].split()[0])
        elif inside and names and not line.strip():
            break
    return names


def load(run: str) -> dict[str, list[dict]]:
    out = {}
    for d in sorted((results / run).glob("server-*")):
        f = d / "checks.json"
        name = STAMP.sub("", d.name)[len("server-"):]
        out[name] = json.loads(f.read_text()) if f.is_file() else []
    return out


def verdict(checks: list[dict], skip_ok: bool = False) -> tuple[bool, str]:
    count = {s: sum(c.get("status") == s for c in checks) for s in ("SUCCESS", "FAILURE", "WARNING", "SKIPPED")}
    text = f"{count['SUCCESS']} passed, {count['FAILURE']} failed"
    if count["WARNING"]:
        text += f", {count['WARNING']} warnings"
    if count["SKIPPED"]:
        text += f", {count['SKIPPED']} skipped"
    ok = count["FAILURE"] == 0 and (count["SUCCESS"] > 0 or (skip_ok and count["SKIPPED"] > 0))
    return ok, text


def failures(checks: list[dict]) -> list[str]:
    return [f"      {c.get('id')}: {str(c.get('errorMessage', ''))[:300]}" for c in checks if c.get("status") == "FAILURE"]


bad: list[str] = []
all_server = listed(results / "list-server.txt", "Server scenarios")
tasks = [n for n in all_server if n.startswith("tasks-")]
pending = load("pending")
pending_rc = (results / "pending.rc").read_text().strip()
print(f"\nconformance: pending suite (exit {pending_rc}); tasks-* enforced, others reported")
for name in sorted(set(pending) | set(tasks), key=lambda n: (not n.startswith("tasks-"), n)):
    checks = pending.get(name)
    enforced = name in tasks
    if checks is None:
        ok, text = False, "no results"
    else:
        ok, text = verdict(checks, skip_ok=name == "tasks-status-notifications")
    if not enforced:  # reported like the suite does: a scenario fails only on a FAILURE check
        ok = checks is not None and not failures(checks)
    mark = "ok  " if ok else ("FAIL" if enforced else "fail")
    print(f"  {mark} {name}: {text}{'' if enforced else '  (not enforced)'}")
    if not ok:
        print("\n".join(failures(checks or [])))
        if enforced:
            bad.append(f"pending/{name}")

required = listed(results / "list-requirements.txt", "Server scenarios")
reqs = load("requirements")
req_rc = (results / "requirements.rc").read_text().strip()
passed = 0
lines = []
for name in required:
    ok, text = verdict(reqs[name]) if name in reqs else (False, "no results")
    passed += ok
    if not ok:
        lines.append(f"  FAIL {name}: {text}")
        lines.extend(failures(reqs.get(name, [])))
        bad.append(f"requirements/{name}")
print(f"\nconformance: requirements 2026-07-28 (exit {req_rc}): {passed}/{len(required)} required server scenarios pass")
print("\n".join(lines) if lines else "", end="" if not lines else "\n")
unscored = sorted(n for n in reqs if n not in required)
unscored_ok = sum(verdict(reqs[n], skip_ok=True)[0] for n in unscored)
print(f"  not scored (extension/pending): {unscored_ok}/{len(unscored)} pass")
if req_rc != "0":
    bad.append(f"requirements exit code {req_rc}")
if not required:
    bad.append("could not read the required scenario list")

print(f"\nresults: {results}")
if bad:
    print(f"conformance: FAILED ({', '.join(bad)})")
    sys.exit(1)
print(f"conformance: OK ({len(tasks)} tasks-* scenarios, {passed}/{len(required)} required 2026-07-28)")
EOF
