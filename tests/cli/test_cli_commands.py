"""The client commands (`offload call`, `offload task ...`, `offload tasks`) as a user runs them.

Every test runs the real console script as a subprocess against a real `offload serve` process
(tests/servers/cli_server.py). stdin is not a terminal unless a test gives it a pseudo-terminal.
Deadlines are generous and nothing asserts timing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cli_helpers import detach, offload, offload_each, ok, one_error_line, task_json, wait_status

from helpers import ServerProcess, free_port

# -- call --


def test_call_follows_the_task_and_prints_the_result(server: ServerProcess, journal: Path) -> None:
    proc = offload("call", server.url, "slow", "steps=3", journal=journal)
    assert ok(proc).strip() == "slow done after 3 steps"
    # Not a terminal: plain status lines, the last one the terminal status.
    assert "\r" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].split()[2] == "completed"


def test_call_key_value_arguments_are_json_when_they_parse(server: ServerProcess, journal: Path) -> None:
    out = ok(offload("call", server.url, "echo", "n=3", "flag=true", "word=hi", journal=journal))
    assert json.loads(out) == {"n": 3, "flag": True, "word": "hi"}
    base = json.dumps({"n": 1, "flag": False, "word": "from json"})
    out = ok(offload("call", server.url, "echo", "--args", base, "n=7", journal=journal))
    assert json.loads(out) == {"n": 7, "flag": False, "word": "from json"}


def test_call_json_output_is_the_call_tool_result(server: ServerProcess, journal: Path) -> None:
    for args in (("call", "--json"), ("--json", "call"), ("call", "--output", "json")):
        result = json.loads(ok(offload(*args, server.url, "slow", "steps=1", journal=journal)))
        assert result["isError"] is False
        assert result["content"][0]["text"] == "slow done after 1 steps"


def test_detach_prints_a_task_id_that_task_wait_completes(server: ServerProcess, journal: Path) -> None:
    task_id = detach(server, journal, "slow", "steps=2")
    task = json.loads(ok(offload("task", "wait", server.url, task_id, "--json", journal=journal)))
    assert task["taskId"] == task_id
    assert task["status"] == "completed"
    assert task["result"]["content"][0]["text"] == "slow done after 2 steps"
    # Human output of the same finished task is the result text.
    assert ok(offload("task", "wait", server.url, task_id, journal=journal)).strip() == "slow done after 2 steps"


def test_detach_of_an_inline_tool_prints_the_result(server: ServerProcess, journal: Path) -> None:
    out = ok(offload("call", "--detach", server.url, "echo", "n=1", "flag=false", "word=x", journal=journal))
    assert json.loads(out) == {"n": 1, "flag": False, "word": "x"}


def test_a_failed_task_exits_nonzero_with_one_line(server: ServerProcess, journal: Path) -> None:
    proc = offload("call", "-q", server.url, "fail", journal=journal)
    line = one_error_line(proc, 1)
    assert "failed" in line and "the deploy target refused the release" in line and "-32050" in line
    assert proc.stdout == ""
    # With the status line on, the error is still the last line and still one line.
    proc = offload("call", server.url, "fail", journal=journal)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("offload: task ")


def test_a_tool_error_result_is_printed_and_exits_nonzero(server: ServerProcess, journal: Path) -> None:
    proc = offload("call", "-q", server.url, "broken", journal=journal)
    assert proc.returncode == 1
    assert "the widget is broken" in proc.stdout or "broken" in proc.stdout
    one_error_line(proc, 1)


# -- task get / cancel / answer --


def test_task_get_json_and_cancel(server: ServerProcess, journal: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    task_id = detach(server, journal, "gated", f"path={gate}")
    try:
        task = task_json(server, task_id, journal)
        assert task["taskId"] == task_id
        assert task["status"] == "working"
        human = ok(offload("task", "get", server.url, task_id, journal=journal))
        assert task_id in human and "working" in human

        out = ok(offload("task", "cancel", server.url, task_id, journal=journal))
        assert task_id in out
        assert wait_status(server, task_id, ("cancelled", "completed", "failed"))["status"] == "cancelled"
        proc = offload("task", "wait", "-q", server.url, task_id, journal=journal)
        assert "cancelled" in one_error_line(proc, 1)
    finally:
        gate.write_text("open")


def test_task_answer_answers_an_elicitation(server: ServerProcess, journal: Path) -> None:
    task_id = detach(server, journal, "ask_name")
    task = wait_status(server, task_id, ("input_required",))
    (key,) = task["inputRequests"]
    assert task["inputRequests"][key]["method"] == "elicitation/create"
    answer = json.dumps({"action": "accept", "content": {"name": "Ada"}})
    ok(offload("task", "answer", server.url, task_id, f"{key}={answer}", journal=journal))
    assert ok(offload("task", "wait", server.url, task_id, journal=journal)).strip() == "Hello, Ada!"

    # The whole inputResponses object at once.
    task_id = detach(server, journal, "ask_name")
    (key,) = wait_status(server, task_id, ("input_required",))["inputRequests"]
    responses = json.dumps({key: {"action": "accept", "content": {"name": "Grace"}}})
    ok(offload("task", "answer", server.url, task_id, "--responses", responses, journal=journal))
    assert ok(offload("task", "wait", server.url, task_id, journal=journal)).strip() == "Hello, Grace!"


def test_call_needing_input_without_a_terminal_says_how_to_answer(server: ServerProcess, journal: Path) -> None:
    proc = offload("call", "-q", server.url, "ask_name", journal=journal)
    line = one_error_line(proc, 4)
    assert "offload task answer" in line and "stdin is not a terminal" in line
    # The task is still there, waiting; the command in the message is the one that answers it.
    task_id = next(word for word in line.split() if len(word) == 43 and word in proc.stderr)
    (key,) = wait_status(server, task_id, ("input_required",))["inputRequests"]
    answer = json.dumps({"action": "accept", "content": {"name": "Lin"}})
    ok(offload("task", "answer", server.url, task_id, f"{key}={answer}", journal=journal))
    assert ok(offload("task", "wait", server.url, task_id, journal=journal)).strip() == "Hello, Lin!"


def test_input_before_the_task_without_a_terminal_is_one_line(server: ServerProcess, journal: Path) -> None:
    line = one_error_line(offload("call", "-q", server.url, "confirm_first", journal=journal), 1)
    assert "confirm_first" in line and "stdin is not a terminal" in line


# -- the journal --


def test_tasks_lists_unfinished_tasks_and_all_with_all(server: ServerProcess, journal: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    try:
        task_id = detach(server, journal, "gated", f"path={gate}")
        listing = ok(offload("tasks", "--journal", str(journal), journal=journal))
        row = next(line for line in listing.splitlines() if task_id in line)
        assert "gated" in row and "working" in row and server.url in row
        entries = json.loads(ok(offload("tasks", "--journal", str(journal), "--json", journal=journal)))
        assert [e["taskId"] for e in entries] == [task_id]
    finally:
        gate.write_text("open")
    ok(offload("task", "wait", server.url, task_id, journal=journal))
    ok(offload("call", server.url, "slow", "steps=1", journal=journal))

    listing = ok(offload("tasks", "--journal", str(journal), journal=journal))
    assert task_id not in listing
    entries = json.loads(ok(offload("tasks", "--journal", str(journal), "--all", "--json", journal=journal)))
    by_tool = {e["tool"]: e for e in entries}
    assert by_tool["gated"]["taskId"] == task_id and by_tool["gated"]["status"] == "completed"
    assert by_tool["slow"]["status"] == "completed"
    listing = ok(offload("tasks", "--all", journal=journal))  # $OFFLOAD_JOURNAL is the default
    assert task_id in listing and "completed" in listing


def test_tasks_with_no_journal_is_empty(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    assert json.loads(ok(offload("tasks", "--json", journal=missing))) == []
    assert not missing.exists()


# -- errors --


def test_a_closed_port_gives_one_line_and_exit_3(journal: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    commands = [("call", url, "slow", "steps=1"), ("task", "get", url, "x"), ("task", "wait", url, "x")]
    for proc in offload_each(commands, journal=journal):
        assert "cannot reach" in one_error_line(proc, 3)


def test_an_unknown_task_id_gives_one_line(server: ServerProcess, journal: Path) -> None:
    commands = [
        ("task", "get", server.url, "no-such-task"),
        ("task", "wait", server.url, "no-such-task"),
        ("task", "cancel", server.url, "no-such-task"),
        ("task", "answer", server.url, "no-such-task", "k={}"),
        ("task", "get", server.url, "--", "-no-such-task-but-a-dashed-id"),  # ids may start with "-"
    ]
    for proc in offload_each(commands, journal=journal):
        line = one_error_line(proc, 1)
        assert "not found" in line.lower() and "no-such-task" in line


def test_usage_errors_exit_2(server: ServerProcess, journal: Path) -> None:
    commands = [
        ("call", server.url, "echo", "not-a-pair"),
        ("call", server.url, "echo", "--args", "[1, 2]"),
        ("call", "ftp://example.com", "echo"),
        ("task", "answer", server.url, "some-task", "key=not json"),
        ("task", "answer", server.url, "some-task"),
        ("call",),  # argparse's own usage error
    ]
    *mine, argparse_error = offload_each(commands, journal=journal)
    for proc in mine:
        one_error_line(proc, 2)
    assert argparse_error.returncode == 2


def test_in_a_pipe_the_status_is_plain_lines_with_the_progress(server: ServerProcess, journal: Path) -> None:
    proc = offload("call", server.url, "counted", "total=5", journal=journal)
    assert ok(proc).strip() == "counted to 5"
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert any(re.fullmatch(r"task \S+… working \d+\.\ds  [1-5]/5", line) for line in lines), lines
    assert len(lines) == len(set(lines))  # one line per change
