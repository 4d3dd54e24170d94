"""tasks/get, tasks/update, tasks/cancel over real HTTP: shapes, errors, cancellation, status, policy fields."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from helpers import Client, RpcError, text_of, wait_until

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PAYLOADS = ("result", "error", "inputRequests")
NOT_FOUND = "Failed to retrieve task: Task not found"
EXPIRED = "Failed to retrieve task: Task has expired"


def assert_task_base(task: dict[str, Any], task_id: str) -> None:
    assert task["taskId"] == task_id
    assert ISO_MS.match(task["createdAt"]), task["createdAt"]
    assert ISO_MS.match(task["lastUpdatedAt"]), task["lastUpdatedAt"]
    assert task["lastUpdatedAt"] >= task["createdAt"]
    assert "ttlMs" in task


def rpc_error(fn: Any, *args: Any, **kw: Any) -> RpcError:
    with pytest.raises(RpcError) as info:
        fn(*args, **kw)
    return info.value


# -- shapes per status --


def test_create_result_is_a_task_without_status_payloads(client: Client, marker: str) -> None:
    created = client.call("gated", {"path": marker})
    assert created["resultType"] == "task"
    assert created["status"] == "working"
    assert_task_base(created, created["taskId"])
    for key in PAYLOADS:
        assert key not in created
    Path(marker + ".go").write_text("go")
    client.wait_for(created["taskId"])


def test_working_task_shape_then_completed_shape(client: Client, marker: str) -> None:
    task_id = client.start_task("gated", {"path": marker})
    working = client.get(task_id)
    assert working["resultType"] == "complete"
    assert working["status"] == "working"
    assert_task_base(working, task_id)
    for key in PAYLOADS:
        assert key not in working
    Path(marker + ".go").write_text("go")
    done = client.wait_for(task_id)
    assert done["resultType"] == "complete"
    assert done["status"] == "completed"
    assert_task_base(done, task_id)
    assert text_of(done["result"]) == "gated done"
    assert "error" not in done and "inputRequests" not in done


def test_input_required_shape(client: Client) -> None:
    task_id = client.start_task("ask_name")
    task = client.wait_for(task_id, ("input_required",))
    assert task["resultType"] == "complete"
    assert_task_base(task, task_id)
    assert "result" not in task and "error" not in task
    assert len(task["inputRequests"]) == 1
    client.cancel(task_id)


def test_tool_error_completes_with_is_error(client: Client) -> None:
    done = client.wait_for(client.start_task("tool_error"))
    assert done["status"] == "completed"
    assert done["result"]["isError"] is True
    assert "error" not in done


def test_mcp_error_from_the_tool_fails_the_task_with_that_error(client: Client) -> None:
    done = client.wait_for(client.start_task("rpc_error"))
    assert done["status"] == "failed"
    assert done["error"] == {"code": -32050, "message": "upstream API rate limit exceeded"}
    assert "result" not in done
    assert "rate limit" in done.get("statusMessage", "")


def test_update_and_cancel_acks_are_complete_and_empty(client: Client) -> None:
    task_id = client.start_task("ask_name")
    client.wait_for(task_id, ("input_required",))
    ack = client.update(task_id, {"never-issued": {"action": "cancel"}})
    assert ack.get("resultType") == "complete"
    assert set(ack) - {"_meta"} == {"resultType"}
    ack = client.cancel(task_id)
    assert ack.get("resultType") == "complete"
    assert set(ack) - {"_meta"} == {"resultType"}
    cancelled = client.wait_for(task_id)
    assert cancelled["status"] == "cancelled"
    for key in PAYLOADS:
        assert key not in cancelled


# -- protocol errors --


def test_unknown_task_id_is_32602_for_all_three_methods(client: Client) -> None:
    unknown = "x" * 43
    for err in (
        rpc_error(client.get, unknown),
        rpc_error(client.update, unknown, {"k": {"action": "cancel"}}),
        rpc_error(client.cancel, unknown),
    ):
        assert err.code == -32602
        assert err.message == NOT_FOUND


def test_expired_task_is_32602(client: Client) -> None:
    task_id = client.start_task("short_lived")  # ttl_ms=300; the server sweeps every 0.1 s

    def gone() -> RpcError | None:
        try:
            client.get(task_id)
        except RpcError as exc:
            return exc
        return None

    err = wait_until(gone, what="the 300 ms task to expire")
    assert err.code == -32602
    assert err.message in (EXPIRED, NOT_FOUND)
    assert rpc_error(client.update, task_id, {"k": {"action": "cancel"}}).code == -32602
    assert rpc_error(client.cancel, task_id).code == -32602


def test_requests_without_the_extension_get_32021_before_the_lookup(client: Client, marker: str) -> None:
    task_id = client.start_task("gated", {"path": marker})
    for tid in (task_id, "no-such-task"):
        for err in (
            rpc_error(client.get, tid, ext=False),
            rpc_error(client.update, tid, {"k": {"action": "cancel"}}, ext=False),
            rpc_error(client.cancel, tid, ext=False),
        ):
            assert err.code == -32021
            assert "io.modelcontextprotocol/tasks" in err.data["requiredCapabilities"]["extensions"]
    # None of that touched the task.
    assert client.get(task_id)["status"] == "working"
    Path(marker + ".go").write_text("go")
    assert client.wait_for(task_id)["status"] == "completed"


def test_mcp_name_header_must_match_the_task_id(client: Client, marker: str) -> None:
    task_id = client.start_task("gated", {"path": marker})
    # A missing header is accepted (issue 9 item A; tests/interop/test_routing_headers.py).
    for name in ("someone-else",):
        for err in (
            rpc_error(client.get, task_id, name=name),
            rpc_error(client.update, task_id, {"k": {"action": "cancel"}}, name=name),
            rpc_error(client.cancel, task_id, name=name),
        ):
            assert err.code == -32020
    assert client.get(task_id)["status"] == "working"  # the mismatched cancel did nothing
    Path(marker + ".go").write_text("go")
    assert client.wait_for(task_id)["status"] == "completed"


# -- cancellation --


def test_cancel_stops_the_work_and_runs_its_cleanup(client: Client, marker: str) -> None:
    task_id = client.start_task("gated", {"path": marker})
    wait_until(lambda: Path(marker + ".starts").exists(), what="the tool to start")
    assert client.cancel(task_id)["resultType"] == "complete"
    cancelled = client.wait_for(task_id)
    assert cancelled["status"] == "cancelled"
    assert "result" not in cancelled
    wait_until(lambda: Path(marker + ".cleanup").exists(), what="the tool's finally: block")
    # Opening the gate now changes nothing: the run is gone.
    Path(marker + ".go").write_text("go")
    assert client.get(task_id)["status"] == "cancelled"


def test_cancel_after_completion_is_acked_and_keeps_completed(client: Client) -> None:
    task_id = client.start_task("always_task", {"x": 11})
    done = client.wait_for(task_id)
    assert done["status"] == "completed"
    assert client.cancel(task_id)["resultType"] == "complete"
    assert client.cancel(task_id)["resultType"] == "complete"
    after = client.get(task_id)
    assert after["status"] == "completed"
    assert after["result"] == done["result"]


def test_cancel_is_idempotent_on_a_failed_task(client: Client) -> None:
    task_id = client.start_task("rpc_error")
    failed = client.wait_for(task_id)
    assert failed["status"] == "failed"
    assert client.cancel(task_id)["resultType"] == "complete"
    assert client.get(task_id)["error"] == failed["error"]


# -- statusMessage and policy fields --


def test_status_message_follows_progress_reports(client: Client, marker: str) -> None:
    task_id = client.start_task("staged", {"path": marker})
    client.wait_until_task(
        task_id, lambda t: t.get("statusMessage") == "stage one: fetching", "the first progress message"
    )
    Path(marker + ".go1").write_text("go")
    client.wait_until_task(
        task_id, lambda t: t.get("statusMessage") == "stage two: crunching", "the second progress message"
    )
    assert client.get(task_id)["status"] == "working"
    Path(marker + ".go2").write_text("go")
    assert text_of(client.wait_for(task_id)["result"]) == "staged done"


def test_poll_interval_and_ttl_per_tool(client: Client) -> None:
    created = client.call("tuned", {"x": 1})
    assert created["pollIntervalMs"] == 1234
    assert created["ttlMs"] == 98765
    done = client.wait_for(created["taskId"])
    assert (done["pollIntervalMs"], done["ttlMs"]) == (1234, 98765)
    # A tool without its own settings carries the server's defaults.
    other = client.call("always_task", {"x": 1})
    assert (other["pollIntervalMs"], other["ttlMs"]) == (500, 600_000)
