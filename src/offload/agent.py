"""What a long tool call costs an agent's context window, and tools an LLM loop can call with tasks.

`measure_context` runs one tool twice against a server and counts what would enter the agent's
context window each way:

- **blocking**: the call runs inline (the request does not declare the tasks extension) and, as a
  client does today, asks for logs (`_meta` `io.modelcontextprotocol/logLevel`) and progress (a
  `progressToken`). Every `notifications/message` and `notifications/progress` streamed on the
  request, and the result, reach the agent.
- **task**: the same request, declaring the extension, through offload's `TaskClient`. What reaches
  the agent is the `tools/call` answer (the `CreateTaskResult` handle, with any notification sent on
  it) and, when the agent asks for it, the final result. The `tasks/get` polls are made by the
  harness, outside the window; they are counted as round trips, not as window bytes.

"Bytes" are UTF-8 bytes of the compact JSON of each message handed to the agent (a notification
frame, a result object). Tokens are approximate (`approx_tokens`, see `TOKEN_METHOD`).

`TaskToolAdapter` presents a server's tools to any LLM tool loop (no LLM SDK needed): a call the
server makes into a task comes back as a one-line handle message, and a `task_result` tool fetches
the outcome when the model decides it needs it.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult

from offload.client import (
    InputUnhandled,
    TaskCancelled,
    TaskClient,
    TaskError,
    TaskFailed,
    TaskHandle,
    TaskTimeout,
    WireClient,
)
from offload.protocol import TERMINAL

__all__ = [
    "TASK_TOOLS",
    "TOKEN_METHOD",
    "ContextReport",
    "TaskToolAdapter",
    "approx_tokens",
    "measure_context",
    "window_size",
]

LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"

_PIECE = re.compile(r"[A-Za-z]+|[0-9]{1,3}|[^\sA-Za-z0-9]+")

TOKEN_METHOD = (
    "regex word-pieces (one token per run of letters, per group of up to 3 digits, "
    "per run of other non-space characters; no tokenizer)"
)


def approx_tokens(text: str) -> int:
    """An approximate token count of `text`: the number of regex word-pieces (see `TOKEN_METHOD`).

    It tracks BPE tokenizers on JSON and log text within a few tens of percent, which is enough to
    compare two ways of running the same call; it is not a billing figure.
    """
    return len(_PIECE.findall(text))


def _compact(message: Any) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def window_size(messages: list[Any]) -> tuple[int, int]:
    """`(bytes, tokens)` of messages handed to an agent: compact JSON, UTF-8, summed per message."""
    texts = [_compact(m) for m in messages]
    return sum(len(t.encode()) for t in texts), sum(approx_tokens(t) for t in texts)


@dataclass
class ContextReport:
    """The figures of one `measure_context` run. `ratio` is task_bytes / blocking_bytes."""

    tool: str
    blocking_bytes: int
    blocking_tokens: int
    blocking_round_trips: int
    blocking_log_lines: int
    blocking_progress: int
    blocking_wire_bytes: int  # the HTTP body as received (SSE framing included)
    blocking_seconds: float
    task_bytes: int
    task_tokens: int
    task_round_trips: int  # the tools/call plus every tasks/get (polls happen outside the window)
    task_polls: int
    task_notifications: int  # notifications that rode on the tools/call answer before the handle
    task_id: str | None  # None when the server answered inline even though the extension was declared
    task_status: str
    task_seconds: float
    ratio: float
    token_method: str = TOKEN_METHOD

    def lines(self) -> list[str]:
        """A human summary, one figure per line."""
        return [
            f"blocking: {self.blocking_bytes:,} bytes, ~{self.blocking_tokens:,} tokens, "
            f"{self.blocking_round_trips} round trip(s); {self.blocking_log_lines:,} log lines, "
            f"{self.blocking_progress} progress updates",
            f"task:     {self.task_bytes:,} bytes, ~{self.task_tokens:,} tokens, "
            f"{self.task_round_trips} round trip(s) ({self.task_polls} of them tasks/* polls, outside the window)",
            f"ratio:    {self.ratio:.4%} of the blocking bytes",
            f"tokens:   {self.token_method}",
        ]


async def measure_context(
    url: str,
    tool: str,
    arguments: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    log_level: str = "info",
    timeout_s: float = 600.0,
) -> ContextReport:
    """Run `tool(arguments)` blocking and as a task; count what each would put in an agent's window.

    Both requests carry the same opt-ins (`io.modelcontextprotocol/logLevel` = `log_level` and a
    `progressToken`), so the only difference is the tasks extension. Round trips are HTTP requests:
    one for the blocking call; the `tools/call` plus every `tasks/get` for the task (push is off, so
    the count is exact). A server that answers inline even with the extension gives a ratio near 1.
    """
    args = dict(arguments or {})
    params = {"name": tool, "arguments": args}

    def opt_in() -> dict[str, Any]:
        return {"progressToken": f"offload-{secrets.token_hex(4)}", LOG_LEVEL_KEY: log_level}

    t0 = time.monotonic()
    async with WireClient(url, tasks=False, token=token, timeout=timeout_s) as wire:
        blocking = await wire.call("tools/call", params, meta=opt_in())
    blocking_seconds = time.monotonic() - t0
    b_bytes, b_tokens = window_size([*blocking.notifications, blocking.result])
    methods = [n.get("method") for n in blocking.notifications]

    t0 = time.monotonic()
    async with TaskClient(url, token=token, push=False, timeout_s=timeout_s) as client:
        created = await client.wire.call("tools/call", params, meta=opt_in())
        window: list[Any] = [*created.notifications, created.result]
        task_id: str | None = None
        status = "completed (inline)"
        if created.result.get("resultType") == "task":
            task_id = str(created.result["taskId"])
            task = await client.handle(task_id).wait(timeout=timeout_s)
            status = str(task["status"])
            final = task.get("result") if status == "completed" else task.get("error") or {"status": status}
            window.append(final or {})
        polls = client.requests_sent
    task_seconds = time.monotonic() - t0
    t_bytes, t_tokens = window_size(window)

    return ContextReport(
        tool=tool,
        blocking_bytes=b_bytes,
        blocking_tokens=b_tokens,
        blocking_round_trips=1,
        blocking_log_lines=methods.count("notifications/message"),
        blocking_progress=methods.count("notifications/progress"),
        blocking_wire_bytes=blocking.raw_bytes,
        blocking_seconds=blocking_seconds,
        task_bytes=t_bytes,
        task_tokens=t_tokens,
        task_round_trips=1 + polls,
        task_polls=polls,
        task_notifications=len(created.notifications),
        task_id=task_id,
        task_status=status,
        task_seconds=task_seconds,
        ratio=t_bytes / b_bytes if b_bytes else 0.0,
    )


# -- presenting tools to an LLM loop --

TASK_TOOLS: list[dict[str, Any]] = [
    {
        "name": "task_result",
        "description": (
            "Get the outcome of a task that another tool started (its call answered 'task <id> started'). "
            "Waits until the task has finished, then returns its result."
        ),
        "parameters": {
            "type": "object",
            "properties": {"task_id": {"type": "string", "description": "the id from the 'task <id> started' line"}},
            "required": ["task_id"],
        },
    },
    {
        "name": "task_status",
        "description": "Check a task's status in one line, without waiting for it to finish.",
        "parameters": {
            "type": "object",
            "properties": {"task_id": {"type": "string"}},
            "required": ["task_id"],
        },
    },
    {
        "name": "task_cancel",
        "description": "Stop a task that is no longer needed.",
        "parameters": {
            "type": "object",
            "properties": {"task_id": {"type": "string"}},
            "required": ["task_id"],
        },
    },
]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def result_text(result: CallToolResult) -> str:
    """The text an LLM sees for a tool result: its text blocks, else its structured content as JSON."""
    parts: list[str] = []
    for block in result.content:
        if block.type == "text":
            parts.append(block.text)
        else:
            parts.append(f"[{block.type} content]")
    text = "\n".join(parts)
    if not text and result.structured_content is not None:
        text = _compact(result.structured_content)
    return f"error: {text}" if result.is_error else text


class TaskToolAdapter:
    """A server's tools as an LLM tool loop sees them, with tasks kept out of the context window.

    `tools()` lists the server's tools as provider-neutral specs, `{"name", "description",
    "parameters"}` with `parameters` the tool's JSON Schema, followed by `task_result`, `task_status`
    and `task_cancel` (`TASK_TOOLS`). `call(name, arguments)` returns the text to put in the tool-result
    message: the tool's text when the server answered inline, or, when it made a task, one line:

        task <id> started (tool build, status working); call task_result with task_id=<id> to get the outcome

    The model carries on, and calls `task_result` when it needs the outcome; that waits for the task
    (polling in the harness, outside the window) and returns its text, or one line saying it failed,
    was cancelled, needs input this client cannot give, or is still running after `result_timeout_s`.

        async with TaskClient("http://127.0.0.1:8000/mcp") as client:
            adapter = TaskToolAdapter(client)
            specs = await adapter.tools()
            # Anthropic: [{"name": s["name"], "description": s["description"], "input_schema": s["parameters"]}]
            # OpenAI:    [{"type": "function", "function": s} for s in specs]
            while True:
                reply = model(messages, tools=specs)           # your LLM call
                if not reply.tool_calls:
                    break
                for tc in reply.tool_calls:
                    text = await adapter.call(tc.name, tc.arguments)
                    messages.append(tool_result(tc.id, text))  # a handle line, not the task's exhaust

    Pass a `TaskClient` built with an `elicitation_callback` to let tasks that ask questions be answered
    while `task_result` waits. Protocol errors of a call (unknown tool, bad arguments) come back as
    one-line `error:` text so the model can correct itself; transport failures raise.
    """

    def __init__(self, client: TaskClient, *, result_timeout_s: float | None = None) -> None:
        self.client = client
        self.result_timeout_s = result_timeout_s
        self.handles: dict[str, TaskHandle] = {}
        self.tool_of: dict[str, str] = {}

    async def tools(self) -> list[dict[str, Any]]:
        """The server's tools (every page of `tools/list`), then the task tools."""
        specs: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await self.client.sdk.list_tools(cursor=cursor)
            for tool in page.tools:
                specs.append(
                    {"name": tool.name, "description": tool.description or "", "parameters": tool.input_schema}
                )
            cursor = page.next_cursor
            if not cursor:
                break
        taken = {s["name"] for s in specs} & {t["name"] for t in TASK_TOOLS}
        if taken:
            raise ValueError(f"the server has tools named like the adapter's task tools: {sorted(taken)}")
        return specs + [dict(t) for t in TASK_TOOLS]

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> str:
        """Run one tool call from the model; return the text for its tool-result message."""
        args = dict(arguments or {})
        if name in ("task_result", "task_status", "task_cancel"):
            task_id = args.get("task_id")
            if not isinstance(task_id, str) or not task_id:
                return f"error: {name} needs a task_id (a string)"
            if name == "task_result":
                return await self.task_result(task_id)
            if name == "task_status":
                return await self.task_status(task_id)
            return await self.task_cancel(task_id)
        try:
            outcome = await self.client.start_tool(name, args)
        except MCPError as exc:
            return _one_line(f"error: {name}: {exc.message} (JSON-RPC error {exc.code})")
        except TaskError as exc:
            return _one_line(f"error: {name}: {exc}")
        if isinstance(outcome, TaskHandle):
            self.handles[outcome.task_id] = outcome
            self.tool_of[outcome.task_id] = name
            status = outcome.status_value or "working"
            return (
                f"task {outcome.task_id} started (tool {name}, status {status}); "
                f"call task_result with task_id={outcome.task_id} to get the outcome"
            )
        return result_text(outcome)

    def _handle(self, task_id: str) -> TaskHandle:
        handle = self.handles.get(task_id)
        if handle is None:
            handle = self.handles[task_id] = self.client.handle(task_id)
        return handle

    def _label(self, task_id: str) -> str:
        tool = self.tool_of.get(task_id)
        return f"task {task_id}" + (f" (tool {tool})" if tool else "")

    async def task_result(self, task_id: str) -> str:
        """Wait for the task and return its text; one line when it ended any other way."""
        handle = self._handle(task_id)
        label = self._label(task_id)
        try:
            result = await handle.result(timeout=self.result_timeout_s)
        except TaskFailed as exc:
            detail = exc.status_message or exc.error_message
            return _one_line(f"{label} failed: {detail} (JSON-RPC error {exc.code})")
        except TaskCancelled as exc:
            return _one_line(f"{label} was cancelled" + (f": {exc.status_message}" if exc.status_message else ""))
        except TaskTimeout:
            return _one_line(
                f"{label} is still {handle.status_value or 'working'} after {self.result_timeout_s:g} s; "
                f"call task_result again later"
            )
        except InputUnhandled as exc:
            return _one_line(f"{label} is waiting for input this client cannot give: {exc}")
        except TaskError as exc:
            return _one_line(f"error: {exc}")
        return result_text(result)

    async def task_status(self, task_id: str) -> str:
        """One line: the task's status and statusMessage, without waiting."""
        label = self._label(task_id)
        try:
            task = await self._handle(task_id).status()
        except TaskError as exc:
            return _one_line(f"error: {exc}")
        status = str(task["status"])
        message = task.get("statusMessage")
        line = f"{label}: {status}" + (f" ({message})" if message else "")
        if status in TERMINAL:
            line += "; call task_result to get the outcome"
        return _one_line(line)

    async def task_cancel(self, task_id: str) -> str:
        """Ask the server to stop the task; one line."""
        try:
            await self._handle(task_id).cancel()
        except TaskError as exc:
            return _one_line(f"error: {exc}")
        return f"{self._label(task_id)}: cancellation requested"
