"""A scripted agent loop against the demo server, and the same work done blocking, for the accounting.

The "model" is a deterministic stand-in (`ScriptedModel`): it reads each message that enters its
window and decides the next tool call by rules a real model would follow from the same text. No
network beyond the MCP server, no LLM.

With tasks (`run_agent_loop`): it starts `release` (long, asks for approval) and `run_pipeline`
(long, 5,000 log lines), does other work (`latest_version`), and otherwise waits; between turns the
harness hands it the attention line when there is news. Told that `release` needs approval, it
answers with `task_answer`; told a task completed, it fetches the result with `task_result`.

Blocking (`run_blocking`): a 2025-11-25 host makes the same calls without tasks (the `mcp` SDK
client in legacy mode, which is what most hosts are today). Each call holds the turn until it ends,
and every progress update, log line and the approval question arrive on the way.

Both record what entered the window in an `offload.agent.Window`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from mcp.client import Client

from offload.agent import TaskToolAdapter, Window
from offload.agent.accounting import compact
from offload.client import TaskClient

__all__ = ["LoopReport", "ScriptedModel", "ToolCall", "run_agent_loop", "run_blocking"]

_STARTED = re.compile(r"^task (\S+) started \(tool (\w+)")
_ASKS = re.compile(r"task (\S+) \(tool (\w+)\) needs input: \[key (\S+)\]")
_DONE = re.compile(r"task (\S+) \(tool (\w+)\) completed")
_PLANNED = ("release", "run_pipeline", "latest_version")


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class ScriptedModel:
    """Deterministic stand-in for an LLM: a plan of calls, then reactions to what it reads.

    `next()` returns the next `ToolCall`, "wait" when it has nothing to do until there is news,
    or "done" when it knows every outcome it set out to get.
    """

    version: str = "1.4.0"
    lines: int = 5000
    plan: list[ToolCall] = field(default_factory=list)
    reactions: list[ToolCall] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)  # task id -> tool
    outcomes: dict[str, str] = field(default_factory=dict)  # tool -> final text

    def __post_init__(self) -> None:
        self.plan = [
            ToolCall("release", {"version": self.version}),
            ToolCall("run_pipeline", {"lines": self.lines}),
            ToolCall("latest_version", {}),  # other work while the long calls run
        ]

    def read(self, text: str, after: ToolCall | None = None) -> None:
        """Take in one message (a tool result or an attention line) and queue what it calls for."""
        for line in text.splitlines():
            if started := _STARTED.match(line):
                self.tasks[started.group(1)] = started.group(2)
                continue
            for task_id, _tool, key in _ASKS.findall(line):
                self.reactions.append(
                    ToolCall("task_answer", {"task_id": task_id, "key": key, "answer": {"approve": True}})
                )
            for task_id, _tool in _DONE.findall(line):
                self.reactions.append(ToolCall("task_result", {"task_id": task_id}))
        if after is not None and after.name == "task_result":
            self.outcomes[self.tasks.get(after.arguments["task_id"], "?")] = text
        elif after is not None and after.name in _PLANNED and not _STARTED.match(text):
            self.outcomes[after.name] = text  # answered inline

    def next(self) -> ToolCall | str:
        if self.reactions:
            return self.reactions.pop(0)
        if self.plan:
            return self.plan.pop(0)
        return "done" if set(_PLANNED) <= set(self.outcomes) else "wait"


@dataclass
class LoopReport:
    window: Window
    outcomes: dict[str, str]
    turns: int
    attention_polls: int  # tasks/get rounds the harness made between turns, outside the window


async def run_agent_loop(
    url: str,
    *,
    version: str = "1.4.0",
    lines: int = 5000,
    poll_s: float = 0.1,
    timeout_s: float = 300.0,
    on_message: Callable[[str, str], None] | None = None,
) -> LoopReport:
    """Drive `ScriptedModel` through `TaskToolAdapter` until it has every outcome; record its window."""
    window = Window()
    model = ScriptedModel(version=version, lines=lines)
    turns = polls = 0

    def enter(kind: str, text: str) -> str:
        if on_message is not None:
            on_message(kind, text)
        return window.add(kind, text)

    async with TaskClient(url, push=False, answers_later=True) as client:  # the model answers with task_answer
        adapter = TaskToolAdapter(client)
        with anyio.fail_after(timeout_s):
            while True:
                action = model.next()
                if action == "done":
                    break
                if isinstance(action, ToolCall):
                    turns += 1
                    text = await adapter.call(action.name, action.arguments)
                    model.read(enter("tool", text), after=action)
                    line = await adapter.attention()
                else:  # nothing to do until a task changes: the harness waits, outside the window
                    line = ""
                    while not line:
                        await anyio.sleep(poll_s)
                        polls += 1
                        line = await adapter.attention()
                if line:
                    model.read(enter("attention", line))
    return LoopReport(window=window, outcomes=model.outcomes, turns=turns, attention_polls=polls)


async def run_blocking(url: str, *, version: str = "1.4.0", lines: int = 5000) -> tuple[Window, dict[str, str]]:
    """The same calls from a 2025-11-25 host without tasks; everything they deliver enters the window.

    Progress notifications, log messages and the approval question (an elicitation request, answered
    "approve") are counted as the compact JSON of their params; results as their text.
    """
    window = Window()

    async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        window.add("question", compact(params.model_dump(by_alias=True, mode="json", exclude_none=True)))
        return types.ElicitResult(action="accept", content={"approve": True})

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        window.add("log", compact(params.model_dump(by_alias=True, mode="json", exclude_none=True)))

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        window.add("progress", compact({"progress": progress, "total": total, "message": message}))

    outcomes: dict[str, str] = {}
    async with Client(url, mode="legacy", elicitation_callback=on_elicit, logging_callback=on_log) as client:
        for name, arguments in (
            ("release", {"version": version}),
            ("run_pipeline", {"lines": lines}),
            ("latest_version", {}),
        ):
            result = await client.call_tool(name, arguments, progress_callback=on_progress)
            text = "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))
            outcomes[name] = window.add("tool", text)
    return window, outcomes
