"""Drives the plain `mcp` 2.3 `Client` (2026-07-28, no tasks extension) against a URL.

    python mcp2_driver.py URL MARKER_PREFIX

Prints one JSON line per case: {"case": ..., "ok": bool, ...details} (see tests/interop/test_clients.py).
Without the tasks extension every call runs inline; a cancel is giving up on the call (the SDK
closes its request), which must reach the tool.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.client import Client
from mcp.shared.exceptions import MCPError

URL, MARKER = sys.argv[1], sys.argv[2]
CASE_TIMEOUT_S = 20.0


def emit(case: str, **fields: Any) -> None:
    print(json.dumps({"case": case, **fields}), flush=True)


def text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in getattr(result, "content", []))


async def approve_everything(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": True})


async def run(case: str, body: Any) -> None:
    started = time.monotonic()
    try:
        with anyio.fail_after(CASE_TIMEOUT_S):
            fields = await body()
        emit(case, ok=True, seconds=round(time.monotonic() - started, 2), **fields)
    except MCPError as exc:
        error = exc.error
        emit(
            case,
            ok=False,
            seconds=round(time.monotonic() - started, 2),
            code=error.code,
            error=error.message,
            data=error.data,
        )
    except Exception as exc:  # report every failure as data; the test decides
        emit(case, ok=False, seconds=round(time.monotonic() - started, 2), error=f"{type(exc).__name__}: {exc}")


async def main() -> None:
    emit("client", name="mcp", version=version("mcp"))
    async with Client(URL, mode="2026-07-28", elicitation_callback=approve_everything) as client:
        emit("connect", ok=True, protocol=client.protocol_version)

        async def inline() -> dict[str, Any]:
            return {"text": text(await client.call_tool("quick", {"x": 7}))}

        async def task() -> dict[str, Any]:
            result = await client.call_tool("slow", {"seconds": 0.3})
            return {"text": text(result), "is_error": getattr(result, "is_error", None)}

        async def required() -> dict[str, Any]:
            result = await client.call_tool("report", {"label": "r1"})
            return {"text": text(result), "is_error": getattr(result, "is_error", None)}

        async def elicit() -> dict[str, Any]:
            result = await client.call_tool("approve", {"change": "deploy"})
            return {"text": text(result), "is_error": getattr(result, "is_error", None)}

        async def cancel() -> dict[str, Any]:
            marker = MARKER + "-hang"
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.call_tool, "hang", {"marker": marker})
                while not Path(marker + ".started").exists():
                    await anyio.sleep(0.02)
                tg.cancel_scope.cancel()
            with anyio.fail_after(10):
                while not Path(marker + ".cancelled").exists():
                    await anyio.sleep(0.02)
            return {"status": "cancelled"}

        for name, body in [
            ("inline", inline),
            ("task", task),
            ("required", required),
            ("elicit", elicit),
            ("cancel", cancel),
        ]:
            await run(name, body)


anyio.run(main)
