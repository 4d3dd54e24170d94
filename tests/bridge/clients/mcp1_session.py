"""A 2025-11-25 host, played by the `mcp` 1.x Python client over stdio, using `offload bridge`.

Run with the interpreter of the mcp 1.x venv (.cache/interop/mcp1):

    python mcp1_session.py OFFLOAD_BIN SERVER_URL JOURNAL PLAN_JSON

PLAN_JSON says what the host does, in this order, each step optional:
  "start": {"tool", "arguments"}   call a tool that becomes a task (its handle names the task)
  "stop_after_start": true         exit there (the host, and so its bridge, goes away)
  "task_id": "..."                 follow this task instead (started by an earlier host process)
  "other": {"tool", "arguments"}   other work while the task runs
  "gate": "path"                   create this file (lets a test upstream go on)
  "bad_answer", "answer": {...}    answers to the task's question, once task_status shows it
Each step's tool result is printed as one JSON line: {"step", "tool", "isError", "texts"}.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def call(session: ClientSession, step: str, tool: str, arguments: dict[str, Any]) -> list[str]:
    result = await session.call_tool(tool, arguments)
    texts = [block.text for block in result.content if block.type == "text"]
    print(json.dumps({"step": step, "tool": tool, "isError": bool(result.isError), "texts": texts}), flush=True)
    return texts


async def main(offload: str, url: str, journal: str, plan: dict[str, Any]) -> None:
    params = StdioServerParameters(command=offload, args=["bridge", url, "--journal", journal, "--wait", "30"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        print(json.dumps({"step": "initialize", "protocolVersion": init.protocolVersion}), flush=True)
        tools = await session.list_tools()
        schemas = {t.name: t.outputSchema for t in tools.tools}
        print(json.dumps({"step": "tools", "names": list(schemas), "outputSchemas": schemas}), flush=True)
        task_id = plan.get("task_id")
        texts: list[str] = []
        if "start" in plan:
            texts = await call(session, "start", plan["start"]["tool"], plan["start"]["arguments"])
            task_id = texts[0].split()[1]
            if plan.get("stop_after_start"):
                return
        assert task_id is not None
        if "other" in plan:
            texts = await call(session, "other_work", plan["other"]["tool"], plan["other"]["arguments"])
        if "gate" in plan:
            Path(plan["gate"]).write_text("go")
        deadline = asyncio.get_running_loop().time() + 60
        while not any("needs input" in t for t in texts):
            if asyncio.get_running_loop().time() > deadline or any(" failed" in t or "cancelled" in t for t in texts):
                raise SystemExit(f"the task never asked for input: {texts}")
            await asyncio.sleep(0.2)
            texts = await call(session, "status", "task_status", {"task_id": task_id})
        key = re.search(r"\[key (\S+)\]", " ".join(texts))
        assert key is not None, texts
        question = {"task_id": task_id, "key": key.group(1)}
        await call(session, "bad_answer", "task_answer", {**question, "answer": plan["bad_answer"]})
        await call(session, "answer", "task_answer", {**question, "answer": plan["answer"]})
        await call(session, "result", "task_result", {"task_id": task_id})


if __name__ == "__main__":
    offload, url, journal, plan = sys.argv[1:]
    asyncio.run(main(offload, url, journal, json.loads(plan)))
