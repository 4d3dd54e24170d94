"""`offload tasks` refreshes what it lists; `offload tools` lists a server's tools; `call` types arguments by schema."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cli_helpers import detach, offload, ok, one_error_line, wait_status

from helpers import ServerProcess


def _row(listing: str, task_id: str) -> str:
    return next(line for line in listing.splitlines() if task_id in line)


def test_tasks_refreshes_statuses_from_the_server(server: ServerProcess, journal: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    task_id = detach(server, journal, "gated", f"path={gate}")
    gate.write_text("open")
    wait_status(server, task_id, ("completed",))
    # The journal alone still says working: nothing asked the server since the task started.
    assert "working" in _row(ok(offload("tasks", "--offline", journal=journal)), task_id)
    assert "completed" in _row(ok(offload("tasks", journal=journal)), task_id)
    # The refresh went into the journal: the finished task is no longer among the unfinished ones.
    assert task_id not in ok(offload("tasks", journal=journal))
    entries = json.loads(ok(offload("tasks", "--all", "--json", journal=journal)))
    (entry,) = [e for e in entries if e["taskId"] == task_id]
    assert entry["status"] == "completed" and entry["refreshed"] is True


def test_tasks_marks_rows_it_could_not_refresh(journal: Path, tmp_path: Path) -> None:
    gone = ServerProcess("cli_server.py", tmp_path / "tasks.db", tmp_path / "server.log")
    try:
        task_id = detach(gone, journal, "gated", f"path={tmp_path / 'gate'}")
    finally:
        gone.kill()
    started = time.monotonic()
    proc = offload("tasks", "--refresh-timeout", "2", journal=journal)
    assert proc.returncode == 0, proc.stderr
    assert "working*" in _row(proc.stdout, task_id)
    assert f"* {task_id[:10]}…: not refreshed, cannot reach {gone.url}" in proc.stderr
    assert time.monotonic() - started < 90  # bounded by the refresh timeout, not a 120 s retry loop
    (entry,) = json.loads(ok(offload("tasks", "--json", journal=journal)))
    assert entry["refreshed"] is False and "cannot reach" in entry["refreshError"]


def test_tools_lists_names_descriptions_and_arguments(server: ServerProcess, journal: Path) -> None:
    listing = ok(offload("tools", server.url, journal=journal))
    assert "echo\n  Inline; shows how the CLI typed the arguments." in listing
    assert "arguments: n: integer (required), flag: boolean (required), word: string (required)" in listing
    tools = json.loads(ok(offload("tools", server.url, "--json", journal=journal)))
    by_name = {t["name"]: t for t in tools}
    assert by_name["slow"]["inputSchema"]["properties"]["steps"]["type"] == "integer"


def test_call_types_arguments_by_the_tool_schema(server: ServerProcess, journal: Path) -> None:
    out = ok(offload("call", server.url, "echo", "n=10", "flag=yes", "word=1.10", journal=journal))
    assert json.loads(out) == {"n": 10, "flag": True, "word": "1.10"}  # a string field keeps "1.10"
    out = ok(offload("call", server.url, "echo", "n=2", "flag=false", "word=true", journal=journal))
    assert json.loads(out) == {"n": 2, "flag": False, "word": "true"}


def test_a_value_that_does_not_fit_is_a_usage_error_naming_the_field(server: ServerProcess, journal: Path) -> None:
    line = one_error_line(offload("call", server.url, "echo", "n=1.5", "flag=true", "word=x", journal=journal), 2)
    assert "argument 'n' of echo: expected a whole number, got '1.5'" in line
    line = one_error_line(offload("call", server.url, "echo", "n=1", "flag=maybe", "word=x", journal=journal), 2)
    assert "'flag'" in line and "true or false" in line
    line = one_error_line(offload("call", server.url, "no_such_tool", "a=1", journal=journal), 2)
    assert "no tool 'no_such_tool'" in line and f"offload tools {server.url}" in line
