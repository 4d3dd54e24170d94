"""Drives FastMCP 4.x + fastmcp-tasks against a URL; runs in .cache/interop/fastmcp (its own venv).

    python fastmcp_driver.py URL MARKER_PREFIX

Prints one JSON line per case: {"case": ..., "ok": bool, ...details} (see tests/interop/test_clients.py).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import fastmcp_tasks
from fastmcp import Client
from fastmcp_tasks import call_tool_task

URL, MARKER = sys.argv[1], sys.argv[2]
CASE_TIMEOUT_S = 20.0


def emit(case: str, **fields: Any) -> None:
    print(json.dumps({"case": case, **fields}), flush=True)


def text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def approve_everything(message: str, response_type: Any, params: Any, context: Any) -> dict[str, Any]:
    return {"approve": True}


async def run(case: str, body: Any) -> None:
    started = time.monotonic()
    try:
        fields = await asyncio.wait_for(body(), CASE_TIMEOUT_S)
        emit(case, ok=True, seconds=round(time.monotonic() - started, 2), **fields)
    except BaseException as exc:  # report every failure as data; the test decides
        emit(case, ok=False, seconds=round(time.monotonic() - started, 2), error=f"{type(exc).__name__}: {exc}")


async def main() -> None:
    emit("client", name="fastmcp", version=__import__("fastmcp").__version__, tasks=fastmcp_tasks.__version__)
    async with Client(URL, mode="auto", elicitation_handler=approve_everything, timeout=CASE_TIMEOUT_S) as client:

        async def inline() -> dict[str, Any]:
            return {"text": text(await client.call_tool("quick", {"x": 7}))}

        async def task() -> dict[str, Any]:
            handle = await call_tool_task(client, "slow", {"seconds": 0.3})
            return {"task_id": handle.task_id, "text": text(await handle.result())}

        async def required() -> dict[str, Any]:
            return {"text": text(await client.call_tool("report", {"label": "r1"}))}

        async def elicit() -> dict[str, Any]:
            handle = await call_tool_task(client, "approve", {"change": "deploy"})
            return {"task_id": handle.task_id, "text": text(await handle.result())}

        async def cancel() -> dict[str, Any]:
            handle = await call_tool_task(client, "hang", {"marker": MARKER + "-hang"})
            while not Path(MARKER + "-hang.started").exists():
                await asyncio.sleep(0.02)
            await handle.cancel()
            status = await handle.status()
            while status.status not in ("completed", "failed", "cancelled"):
                await asyncio.sleep(0.05)
                status = await handle.status()
            return {"task_id": handle.task_id, "status": status.status}

        for name, body in [
            ("inline", inline),
            ("task", task),
            ("required", required),
            ("elicit", elicit),
            ("cancel", cancel),
        ]:
            await run(name, body)


asyncio.run(main())
