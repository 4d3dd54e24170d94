"""`offload task answer`: the command the CLI prints works as given, and a wrong answer is refused before it is sent."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from cli_helpers import detach, offload, ok, one_error_line, wait_status

from helpers import ServerProcess


def test_the_printed_answer_command_has_typed_values_and_works_as_given(server: ServerProcess, journal: Path) -> None:
    line = one_error_line(offload("call", "-q", server.url, "approve", journal=journal), 4)
    command = shlex.split(line.split("answer it with: ", 1)[1])
    assert command[:3] == ["offload", "task", "answer"]
    _, _, raw = command[-1].partition("=")
    assert json.loads(raw) == {"action": "accept", "content": {"ok": True, "copies": 1}}
    task_id = command[-2]
    ok(offload(*command[1:], journal=journal))
    assert ok(offload("task", "wait", server.url, task_id, journal=journal)).strip() == "approved ok=True copies=1"


def test_an_answer_that_does_not_fit_the_schema_is_refused_before_sending(server: ServerProcess, journal: Path) -> None:
    task_id = detach(server, journal, "approve")
    (key,) = wait_status(server, task_id, ("input_required",))["inputRequests"]

    def answer(value: object) -> str:
        return one_error_line(
            offload("task", "answer", server.url, task_id, f"{key}={json.dumps(value)}", journal=journal), 2
        )

    line = answer({"action": "accept", "content": {"ok": "yes"}})
    assert "field 'ok' must be true or false" in line and '"yes"' in line
    assert '"ok":true' in line  # and shows an answer that fits
    assert "copies" in answer({"action": "accept", "content": {"ok": True, "copies": "two"}})
    assert "'ok' is a required property" in answer({"action": "accept", "content": {}})
    assert "action must be accept, decline or cancel" in answer({"action": "yes"})
    line = one_error_line(
        offload("task", "answer", server.url, task_id, 'nope={"action":"cancel"}', journal=journal), 2
    )
    assert "asks for no 'nope'" in line and key in line
    # Nothing reached the task: it still waits for that same question.
    assert key in wait_status(server, task_id, ("input_required",))["inputRequests"]

    ok(offload("task", "answer", server.url, task_id, f'{key}={{"action":"decline"}}', journal=journal))
    assert ok(offload("task", "wait", server.url, task_id, journal=journal)).strip() == "not approved (decline)"


def test_answering_a_task_that_waits_for_nothing_says_so(server: ServerProcess, journal: Path) -> None:
    task_id = detach(server, journal, "slow", "steps=1")
    wait_status(server, task_id, ("completed",))
    line = one_error_line(offload("task", "answer", server.url, task_id, 'k={"action":"cancel"}', journal=journal), 1)
    assert "not waiting for input" in line and "offload task get" in line


def test_task_get_shows_the_answer_command(server: ServerProcess, journal: Path) -> None:
    task_id = detach(server, journal, "approve")
    wait_status(server, task_id, ("input_required",))
    human = ok(offload("task", "get", server.url, task_id, journal=journal))
    row = next(r for r in human.splitlines() if r.startswith("answer"))
    assert '"ok":true' in row and "offload task answer" in row
    ok(offload("task", "cancel", server.url, task_id, journal=journal))
