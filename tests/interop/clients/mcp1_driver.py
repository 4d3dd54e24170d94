"""Drives the `mcp` 1.27 client (protocol 2025-11-25: initialize handshake, session id) against a URL.

Runs in .cache/interop/mcp1 (its own venv: `mcp` 1.x cannot share one with the 2.x this project uses).

    python mcp1_driver.py URL MARKER_PREFIX

Prints one JSON line per case: {"case": ..., "ok": bool, ...details} (see tests/interop/test_clients.py).
A 2025-11-25 client has no tasks extension: calls run inline, elicitation is a server-to-client
request in the middle of the call, and a cancel is `notifications/cancelled` for the call itself.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

URL, MARKER = sys.argv[1], sys.argv[2]
CASE_TIMEOUT_S = 20.0


def emit(case: str, **fields: Any) -> None:
    print(json.dumps({"case": case, **fields}), flush=True)


def text(result: types.CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def approve_everything(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": True})


async def run(case: str, body: Any) -> None:
    started = time.monotonic()
    try:
        with anyio.fail_after(CASE_TIMEOUT_S):
            fields = await body()
        emit(case, ok=True, seconds=round(time.monotonic() - started, 2), **fields)
    except McpError as exc:
        data = exc.error
        emit(case, ok=False, seconds=round(time.monotonic() - started, 2), code=data.code, error=data.message)
    except Exception as exc:  # report every failure as data; the test decides
        emit(case, ok=False, seconds=round(time.monotonic() - started, 2), error=f"{type(exc).__name__}: {exc}")


async def main() -> None:
    emit("client", name="mcp", version=version("mcp"))
    async with (
        streamablehttp_client(URL) as (read, write, _),
        ClientSession(read, write, elicitation_callback=approve_everything) as session,
    ):
        init = await session.initialize()
        emit("initialize", ok=True, protocol=init.protocolVersion)

        async def inline() -> dict[str, Any]:
            return {"text": text(await session.call_tool("quick", {"x": 7}))}

        async def task() -> dict[str, Any]:
            result = await session.call_tool("slow", {"seconds": 0.3})
            return {"text": text(result), "is_error": result.isError}

        async def required() -> dict[str, Any]:
            result = await session.call_tool("report", {"label": "r1"})
            return {"text": text(result), "is_error": result.isError}

        async def elicit() -> dict[str, Any]:
            result = await session.call_tool("approve", {"change": "deploy"})
            return {"text": text(result), "is_error": result.isError}

        async def cancel() -> dict[str, Any]:
            # 2025-11-25 cancels a call with notifications/cancelled naming its request id; this SDK
            # does not send one when the caller gives up, so the driver sends it (the next id is its counter).
            marker = MARKER + "-hang"
            request_id = session._request_id
            async with anyio.create_task_group() as tg:
                tg.start_soon(session.call_tool, "hang", {"marker": marker})
                while not Path(marker + ".started").exists():
                    await anyio.sleep(0.02)
                params = types.CancelledNotificationParams(requestId=request_id, reason="interop test")
                await session.send_notification(types.ClientNotification(types.CancelledNotification(params=params)))
                tg.cancel_scope.cancel()
            with anyio.fail_after(10):
                while not Path(marker + ".cancelled").exists():
                    await anyio.sleep(0.02)
            return {"status": "cancelled"}

        async def tasks_get() -> dict[str, Any]:
            # A 2025-11-25 tasks/get (no routing headers in that revision) for an id this server never made.
            request = types.ClientRequest(
                types.GetTaskRequest(params=types.GetTaskRequestParams(taskId="no-such-task"))
            )
            result = await session.send_request(request, types.GetTaskResult)
            return {"result": result.model_dump(mode="json")}

        for name, body in [
            ("inline", inline),
            ("task", task),
            ("required", required),
            ("elicit", elicit),
            ("cancel", cancel),
            ("tasks_get", tasks_get),
        ]:
            await run(name, body)


anyio.run(main)
