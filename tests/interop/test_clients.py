"""Real third-party MCP clients against offload: directly (`offload serve`) and through `offload gateway`.

Clients (installed from PyPI and npm by scripts/interop-setup.sh, each in its own environment):
FastMCP 4.2 + fastmcp-tasks 4.1 (2026-07-28 with tasks), the official TypeScript client 2.x with
@modelcontextprotocol/ext-tasks (2026-07-28 with tasks), the plain `mcp` 2.3 client (2026-07-28,
no tasks extension), `mcp` 1.27 (2025-11-25), and the MCP Inspector CLI 2.12 in modern mode.
Each runs its cases once per session (conftest.py); the README's "Clients tested" table is this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from interop_env import InspectorCall, Run

TARGETS = ("direct", "gateway")
EXT = "io.modelcontextprotocol/tasks"


def run_of(runs: dict[tuple[str, str], Run], client: str, target: str) -> Run:
    run = runs[(client, target)]
    assert "client" in run.cases, f"{client} did not start:\n{run.output}"
    return run


def ok(run: Run, case: str) -> dict[str, Any]:
    record = run.case(case)
    assert record["ok"], f"{run.client} / {run.target} / {case}: {record}\n{run.output}"
    return record


def cancelled_in_tool(markers: Path, client: str, target: str) -> bool:
    return (markers / f"{client}-{target}-hang.cancelled").exists()


# -- clients with the tasks extension: everything, as tasks --


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("client", ["fastmcp", "typescript"])
def test_task_clients_inline_call(runs: dict[tuple[str, str], Run], client: str, target: str) -> None:
    record = ok(run_of(runs, client, target), "inline")
    assert record["text"] == "quick:7"
    assert "task_id" not in record


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("client", ["fastmcp", "typescript"])
def test_task_clients_follow_a_task_to_completion(runs: dict[tuple[str, str], Run], client: str, target: str) -> None:
    run = run_of(runs, client, target)
    for case, text in (("task", "slow:0.3"), ("required", "report:r1")):
        record = ok(run, case)
        assert record["text"] == text
    assert ok(run, "task")["task_id"], "the optional tool ran inline for a client that declared the extension"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("client", ["fastmcp", "typescript"])
def test_task_clients_answer_elicitation_through_tasks_update(
    runs: dict[tuple[str, str], Run], client: str, target: str
) -> None:
    record = ok(run_of(runs, client, target), "elicit")
    assert record["task_id"]
    assert record["text"] == "deploy: approved"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("client", ["fastmcp", "typescript"])
def test_task_clients_cancel_reaches_the_tool(
    runs: dict[tuple[str, str], Run], markers: Path, client: str, target: str
) -> None:
    record = ok(run_of(runs, client, target), "cancel")
    assert record["status"] == "cancelled"
    assert cancelled_in_tool(markers, client, target)


def test_fastmcp_polls_without_mcp_name_and_is_served(runs: dict[tuple[str, str], Run]) -> None:
    """fastmcp-tasks 4.1 sends no Mcp-Name on tasks/*; the server routes by the body (issue 9 item A)."""
    for target in TARGETS:
        run = run_of(runs, "fastmcp", target)
        assert run.cases["client"]["tasks"].startswith("4.1"), run.cases["client"]
        ok(run, "task")


# -- 2026-07-28 without the tasks extension: inline only --


@pytest.mark.parametrize("target", TARGETS)
def test_mcp2_inline_calls_including_an_optional_tool(runs: dict[tuple[str, str], Run], target: str) -> None:
    run = run_of(runs, "mcp2", target)
    assert run.cases["connect"]["protocol"] == "2026-07-28"
    assert ok(run, "inline")["text"] == "quick:7"
    assert ok(run, "task")["text"] == "slow:0.3"  # optional: runs inline for a client without the extension


@pytest.mark.parametrize("target", TARGETS)
def test_mcp2_required_tool_is_refused_with_missing_capability(runs: dict[tuple[str, str], Run], target: str) -> None:
    record = run_of(runs, "mcp2", target).case("required")
    assert not record["ok"]
    assert record["code"] == -32021
    assert EXT in record["data"]["requiredCapabilities"]["extensions"]


@pytest.mark.parametrize("target", TARGETS)
def test_mcp2_cancel_by_giving_up_reaches_the_tool(
    runs: dict[tuple[str, str], Run], markers: Path, target: str
) -> None:
    assert ok(run_of(runs, "mcp2", target), "cancel")["status"] == "cancelled"
    assert cancelled_in_tool(markers, "mcp2", target)


@pytest.mark.parametrize("target", TARGETS)
def test_mcp2_elicitation_mid_call_is_missing_capability(runs: dict[tuple[str, str], Run], target: str) -> None:
    """A 2026-07-28 call has no back-channel: what the client lacks to answer is the tasks extension."""
    record = run_of(runs, "mcp2", target).case("elicit")
    assert not record["ok"]
    assert record["code"] == -32021, record
    assert EXT in record["data"]["requiredCapabilities"]["extensions"], record


# -- 2025-11-25 (mcp 1.27): inline, elicitation on the session's back-channel --


@pytest.mark.parametrize("target", TARGETS)
def test_mcp1_inline_elicitation_and_cancel(runs: dict[tuple[str, str], Run], markers: Path, target: str) -> None:
    run = run_of(runs, "mcp1", target)
    assert run.cases["initialize"]["protocol"] == "2025-11-25"
    assert ok(run, "inline")["text"] == "quick:7"
    assert ok(run, "task")["text"] == "slow:0.3"
    assert ok(run, "elicit")["text"] == "deploy: approved"
    assert ok(run, "cancel")["status"] == "cancelled"
    assert cancelled_in_tool(markers, "mcp1", target)


@pytest.mark.parametrize("target", TARGETS)
def test_mcp1_required_tool_is_refused(runs: dict[tuple[str, str], Run], target: str) -> None:
    record = run_of(runs, "mcp1", target).case("required")
    assert not record["ok"]
    assert record["code"] == -32021


@pytest.mark.parametrize("target", TARGETS)
def test_mcp1_required_tool_says_it_needs_a_task_client(runs: dict[tuple[str, str], Run], target: str) -> None:
    message = run_of(runs, "mcp1", target).case("required")["error"]
    assert "2026-07-28" in message, message
    assert "task" in message.lower(), message


def test_mcp1_tasks_get_gets_the_version_error(runs: dict[tuple[str, str], Run]) -> None:
    """A 2025-11-25 tasks/get (no Mcp-Name in that revision) is told tasks need 2026-07-28, not -32020."""
    record = run_of(runs, "mcp1", "direct").case("tasks_get")
    assert not record["ok"]
    assert record["code"] != -32020, record
    assert "2026-07-28" in record["error"], record


# -- MCP Inspector CLI, modern mode: drives tasks, declares no elicitation, cannot cancel --


def inspector_text(call: InspectorCall) -> str:
    assert call.returncode == 0 and call.result is not None, call.output
    result = call.result.get("result", {})
    assert not result.get("isError"), call.output
    return "".join(block.get("text", "") for block in result.get("content", []))


@pytest.mark.parametrize("target", TARGETS)
def test_inspector_inline_and_tasks(inspector_calls: dict[tuple[str, str], InspectorCall], target: str) -> None:
    assert inspector_text(inspector_calls[(target, "inline")]) == "quick:7"
    assert inspector_text(inspector_calls[(target, "task")]) == "slow:0.3"
    # `report` runs only as a task: a result means the Inspector followed one to completion.
    assert inspector_text(inspector_calls[(target, "required")]) == "report:r1"


@pytest.mark.parametrize("target", TARGETS)
def test_inspector_elicitation_fails_fast_naming_the_capability(
    inspector_calls: dict[tuple[str, str], InspectorCall], target: str
) -> None:
    """The Inspector declares no elicitation: the task must fail at once, not wait for an answer."""
    call = inspector_calls[(target, "elicit")]
    assert call.returncode is not None, f"still waiting after {call.seconds:.1f} s:\n{call.output}"
    assert "elicitation" in call.output.lower(), call.output
