"""The CLI when the server goes away mid-task or the URL is not quite right: bounded, said, exit 3."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from cli_helpers import CLI_DEADLINE_S, cli_env, detach, offload, offload_each, ok, one_error_line

from helpers import OFFLOAD, ServerProcess

TASK_ID = r"[A-Za-z0-9_-]{43}"


def _start_call(server: ServerProcess, journal: Path, gate: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [OFFLOAD, "call", server.url, "gated", f"path={gate}", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=cli_env(journal),
    )


def _first_line(proc: subprocess.Popen[str], needle: str) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + CLI_DEADLINE_S
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        assert line, "stderr closed before the line came"
        if needle in line:
            return line
    raise AssertionError(f"no {needle!r} on stderr")


def test_server_down_mid_task_says_reconnecting_then_gives_up_with_exit_3(tmp_path: Path, journal: Path) -> None:
    server = ServerProcess("cli_server.py", tmp_path / "tasks.db", tmp_path / "server.log")
    proc = _start_call(server, journal, tmp_path / "gate", "--retry-for", "2")
    try:
        _first_line(proc, "working")
        server.kill()
        _, rest = proc.communicate(timeout=CLI_DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.stop()
    assert proc.returncode == 3, rest
    assert "Traceback" not in rest
    lines = rest.strip().splitlines()
    # The status line said so while it retried: since when, and until when.
    assert any(re.search(r"reconnecting since \d\d:\d\d:\d\d .*giving up at \d\d:\d\d:\d\d", ln) for ln in lines), rest
    last = lines[-1]
    assert last.startswith(f"offload: cannot reach {server.url} since "), last
    assert "gave up after --retry-for 2 s" in last
    match = re.search(rf"the task keeps running: offload task wait (\S+) ({TASK_ID})$", last)
    assert match and match.group(1) == server.url, last


def test_server_back_within_retry_for_carries_on(tmp_path: Path, journal: Path) -> None:
    db, log = tmp_path / "tasks.db", tmp_path / "server.log"
    server = ServerProcess("cli_server.py", db, log)
    gate = tmp_path / "gate"
    proc = _start_call(server, journal, gate, "--retry-for", "120")
    try:
        _first_line(proc, "working")
        server.kill()
        _first_line(proc, "reconnecting since")
        gate.write_text("open")
        server = ServerProcess("cli_server.py", db, tmp_path / "server2.log", port=server.port)
        _, rest = proc.communicate(timeout=CLI_DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.stop()
    assert "reconnected" in rest
    # The task itself ran in the killed process: whatever the restarted server made of it, the call got
    # an answer again and ended on it instead of giving up.
    assert proc.returncode in (0, 1), rest
    assert "cannot reach" not in rest


def test_a_trailing_slash_works_for_every_method(server: ServerProcess, journal: Path, tmp_path: Path) -> None:
    url = server.url + "/"
    assert ok(offload("call", url, "slow", "steps=1", journal=journal)).strip() == "slow done after 1 steps"
    gate = tmp_path / "gate"
    task_id = detach(server, journal, "gated", f"path={gate}")
    try:
        assert "working" in ok(offload("task", "get", url, task_id, journal=journal))
    finally:
        gate.write_text("open")
    assert ok(offload("task", "wait", url, task_id, journal=journal)).strip() == "gate opened"


def test_a_wrong_path_is_reported_at_once_with_status_and_url(server: ServerProcess, journal: Path) -> None:
    url = server.url.removesuffix("/mcp") + "/nope"
    started = time.monotonic()
    procs = offload_each(
        [("task", "get", url, "x"), ("task", "wait", url, "x"), ("tools", url), ("call", url, "slow", "steps=1")],
        journal=journal,
    )
    for proc in procs:
        line = one_error_line(proc, 3)
        assert "404" in line and url in line, line
    # Not retried for minutes: far below the default --retry-for of 120 s.
    assert time.monotonic() - started < 90
