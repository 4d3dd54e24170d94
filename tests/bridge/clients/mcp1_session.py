"""A 2025-11-25 host, played by the `mcp` 1.x Python client over stdio, using `offload bridge`.

Run with the interpreter of the mcp 1.x venv (.cache/interop/mcp1):

    python mcp1_session.py start  OFFLOAD_BIN SERVER_URL JOURNAL   # start `release`, print its handle, exit
    python mcp1_session.py resume OFFLOAD_BIN SERVER_URL JOURNAL TASK_ID  # a new host process follows it up

Each step's tool result is printed as one JSON line: {"step", "tool", "isError", "texts"}.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def call(session: ClientSession, step: str, tool: str, arguments: dict[str, Any]) -> list[str]:
    result = await session.call_tool(tool, arguments)
    texts = [block.text for block in result.content if block.type == "text"]
    print(json.dumps({"step": step, "tool": tool, "isError": bool(result.isError), "texts": texts}), flush=True)
    return texts


async def main(phase: str, offload: str, url: str, journal: str, task_id: str | None) -> None:
    params = StdioServerParameters(command=offload, args=["bridge", url, "--journal", journal, "--wait", "30"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        print(json.dumps({"step": "initialize", "protocolVersion": init.protocolVersion}), flush=True)
        tools = await session.list_tools()
        names = [t.name for t in tools.tools]
        schemas = {t.name: t.outputSchema for t in tools.tools}
        print(json.dumps({"step": "tools", "names": names, "outputSchemas": schemas}), flush=True)
        if phase == "start":
            await call(session, "start", "release", {"version": "1.4.0"})
            return
        assert task_id is not None
        # Other work: an inline tool. Its result carries the news about the task started before the restart.
        texts = await call(session, "other_work", "latest_version", {})
        deadline = asyncio.get_running_loop().time() + 60
        while not any("needs input" in t for t in texts):
            if asyncio.get_running_loop().time() > deadline:
                raise SystemExit("the task never asked for input")
            await asyncio.sleep(0.2)
            texts = await call(session, "status", "task_status", {"task_id": task_id})
        key = re.search(r"\[key (\S+)\]", " ".join(texts))
        assert key is not None, texts
        question = {"task_id": task_id, "key": key.group(1)}
        await call(session, "bad_answer", "task_answer", {**question, "answer": {"approve": "yes"}})
        await call(session, "answer", "task_answer", {**question, "answer": {"approve": True}})
        await call(session, "result", "task_result", {"task_id": task_id})


if __name__ == "__main__":
    phase, offload, url, journal, *rest = sys.argv[1:]
    asyncio.run(main(phase, offload, url, journal, rest[0] if rest else None))
