"""`Mcp-Name` on tasks/* (issue 9 item A): a missing header is accepted, a different one is -32020.

tasks.md "Streamable HTTP: Routing Headers" has clients set `Mcp-Name` to `params.taskId` for
routing; the body stays authoritative. FastMCP's task client sends no header at all
(test_clients.py shows it working end to end); here the raw wire, the strict mode, and the direct
tasks/get path (server/fastpath.py) that must follow the same rule.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import Client, RpcError, ServerProcess

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("interop-strict")
    srv = ServerProcess(str(HERE / "strict_server.py"), base / "tasks.db", base / "server.log")
    yield srv
    srv.stop()


def b64(value: str) -> str:
    return "=?base64?" + base64.b64encode(value.encode()).decode() + "?="


def test_tasks_methods_without_mcp_name_are_served(direct: ServerProcess, markers: Path) -> None:
    c = Client(direct.url)
    try:
        task_id = c.start_task("hang", {"marker": str(markers / "routing-hang")})
        assert c.get(task_id, name=None)["taskId"] == task_id
        assert c.update(task_id, {}, name=None)["resultType"] == "complete"
        assert c.cancel(task_id, name=None)["resultType"] == "complete"
        assert c.wait_for(task_id)["status"] == "cancelled"
    finally:
        c.close()


def test_a_different_mcp_name_is_still_a_header_mismatch(direct: ServerProcess, markers: Path) -> None:
    c = Client(direct.url)
    try:
        task_id = c.start_task("hang", {"marker": str(markers / "routing-mismatch")})
        for method, params in (
            ("tasks/get", {"taskId": task_id}),
            ("tasks/update", {"taskId": task_id, "inputResponses": {}}),
            ("tasks/cancel", {"taskId": task_id}),
        ):
            with pytest.raises(RpcError) as caught:
                c.request(method, params, name="some-other-task")
            assert caught.value.code == -32020, (method, caught.value.error)
        # The mismatched cancel did nothing; an encoded but equal header is the same name.
        assert c.get(task_id)["status"] == "working"
        assert c.get(task_id, name=b64(task_id))["taskId"] == task_id
        c.cancel(task_id)
    finally:
        c.close()


def test_strict_mode_requires_the_header(strict: ServerProcess) -> None:
    c = Client(strict.url)
    try:
        task_id = c.start_task("nap", {"seconds": 30})
        for method, params in (
            ("tasks/get", {"taskId": task_id}),
            ("tasks/update", {"taskId": task_id, "inputResponses": {}}),
            ("tasks/cancel", {"taskId": task_id}),
        ):
            with pytest.raises(RpcError) as caught:
                c.request(method, params, name=None)
            assert caught.value.code == -32020, (method, caught.value.error)
            assert "Mcp-Name" in caught.value.message and "required" in caught.value.message
            with pytest.raises(RpcError) as caught:
                c.request(method, params, name="some-other-task")
            assert caught.value.code == -32020
        assert c.get(task_id)["status"] == "working"  # the strict refusals cancelled nothing
        assert c.cancel(task_id)["resultType"] == "complete"
        assert c.wait_for(task_id)["status"] == "cancelled"
    finally:
        c.close()


def test_the_direct_tasks_get_path_serves_a_request_without_mcp_name(tmp_path: Path) -> None:
    """server/fastpath.py answers it itself (the SDK's counter does not move) with the same bytes as the SDK."""
    db = tmp_path / "tasks.db"
    fast = ServerProcess("client_server.py", db, tmp_path / "fast.log")
    sdk = ServerProcess("client_server.py", db, tmp_path / "sdk.log", env={"OFFLOAD_FAST_GET": "0"})
    c = Client(fast.url)
    try:
        task_id = c.start_task("sleepy", {"seconds": 30})

        def sdk_saw() -> int:
            return int(httpx.get(fast.url.replace("/mcp", "/stats")).json().get("tasks/get", 0))

        before = sdk_saw()
        via_fast = c.message("tasks/get", {"taskId": task_id}, name=None)
        assert sdk_saw() == before, "the direct path stepped aside for a request without Mcp-Name"
        via_sdk = Client(sdk.url)
        try:
            reply = via_sdk.message("tasks/get", {"taskId": task_id}, name=None)
        finally:
            via_sdk.close()
        assert via_fast["result"]["taskId"] == reply["result"]["taskId"] == task_id
        assert via_fast["result"]["status"] == reply["result"]["status"] == "working"
        c.cancel(task_id)
    finally:
        c.close()
        fast.stop()
        sdk.stop()
