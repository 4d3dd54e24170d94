"""A server's tools for any LLM tool loop, with tasks kept out of the context window.

A tool call the server makes into a task comes back to the model as one handle line; four task tools
let the model follow it when it decides to: `task_status` (one line, now), `task_result` (waits, but
returns at once when the task asks a question), `task_answer` (answers that question, checked against
its schema first) and `task_cancel`. Between turns, `attention()` gives one line when a task the
model started ended or needs input, and nothing otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult

from offload.agent.accounting import compact
from offload.agent.attention import Attention
from offload.agent.questions import answer_hint, describe_question, describe_questions, expand_answer, pending_questions
from offload.agent.reads import TASK_READ_TOOL, TaskReader
from offload.client import (
    InputUnhandled,
    RpcError,
    TaskCancelled,
    TaskClient,
    TaskError,
    TaskFailed,
    TaskHandle,
    TaskTimeout,
    TransportProblem,
)
from offload.protocol import INVALID_PARAMS, TERMINAL
from offload.protocol.answers import check_answer

__all__ = ["TASK_TOOLS", "TASK_TOOL_NAMES", "TaskToolAdapter", "result_text"]

_TASK_ID = {"type": "string", "description": "the id from the 'task <id> started' line"}

TASK_TOOLS: list[dict[str, Any]] = [
    {
        "name": "task_result",
        "description": (
            "Get the outcome of a task that another tool started (its call answered 'task <id> started'). "
            "Waits until the task has finished and returns its result; returns at once with the question "
            "when the task needs input (answer it with task_answer)."
        ),
        "parameters": {"type": "object", "properties": {"task_id": _TASK_ID}, "required": ["task_id"]},
    },
    {
        "name": "task_status",
        "description": "Check a task's status in one line, without waiting; shows its question if it needs input.",
        "parameters": {"type": "object", "properties": {"task_id": _TASK_ID}, "required": ["task_id"]},
    },
    {
        "name": "task_answer",
        "description": (
            "Answer a question a task asked (shown as '[key K] \"question\" fields: ...'). For a form, answer "
            'with the fields as an object (that accepts), or "decline" or "cancel". The answer is checked '
            "against the requested fields before it is sent."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "task_id": _TASK_ID,
                "key": {"type": "string", "description": "the key shown with the question"},
                "answer": {
                    "description": 'the fields (e.g. {"approve": true}), or "decline"/"cancel"; '
                    'for a sampling question the reply text; for roots {"roots": [{"uri": "file:///..."}]}',
                },
            },
            "required": ["task_id", "key", "answer"],
        },
    },
    {
        "name": "task_cancel",
        "description": "Stop a task that is no longer needed.",
        "parameters": {"type": "object", "properties": {"task_id": _TASK_ID}, "required": ["task_id"]},
    },
    TASK_READ_TOOL,
]
TASK_TOOL_NAMES = tuple(t["name"] for t in TASK_TOOLS)


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
        text = compact(result.structured_content)
    return text if not result.is_error or text.startswith("error:") else f"error: {text}"


def _text_result(text: str) -> CallToolResult:
    return CallToolResult(content=[types.TextContent(text=text)], is_error=text.startswith("error:"))


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _error_line(
    method: Callable[Concatenate[TaskToolAdapter, _P], Awaitable[_R]],
) -> Callable[Concatenate[TaskToolAdapter, _P], Awaitable[_R | str]]:
    """A task tool whose task cannot be reached (transport, protocol) answers one `error:` line, which
    the model can act on, instead of raising out of the tool loop."""

    @functools.wraps(method)
    async def answer(self: TaskToolAdapter, /, *args: _P.args, **kwargs: _P.kwargs) -> _R | str:
        try:
            return await method(self, *args, **kwargs)
        except (TaskError, TransportProblem) as exc:
            return _one_line(f"error: {exc}")

    return answer


class TaskToolAdapter:
    """A server's tools as an LLM tool loop sees them, with tasks kept out of the context window.

    `tools()` lists the server's tools as provider-neutral specs, `{"name", "description",
    "parameters"}` with `parameters` the tool's JSON Schema, followed by `TASK_TOOLS`. `call(name,
    arguments)` returns the text to put in the tool-result message: the tool's text when the server
    answered inline, or, when it made a task, one line:

        task <id> started (tool build, status working); call task_result with task_id=<id> to get the outcome

    A task that asks a question (an elicitation, say) shows it compactly in `task_status` and
    `task_result` answers and in the attention line; the model answers with `task_answer`. With
    `attention=True`, every `call` answer ends with the attention line when there is news.

        async with TaskClient("http://127.0.0.1:8000/mcp", answers_later=True) as client:  # task_answer answers
            adapter = TaskToolAdapter(client, attention=True)
            specs = await adapter.tools()
            # Anthropic: [{"name": s["name"], "description": s["description"], "input_schema": s["parameters"]}]
            # OpenAI:    [{"type": "function", "function": s} for s in specs]
            while True:
                reply = model(messages, tools=specs)           # your LLM call
                for tc in reply.tool_calls:
                    text = await adapter.call(tc.name, tc.arguments)
                    messages.append(tool_result(tc.id, text))  # a handle line, not the task's exhaust
                if not reply.tool_calls:
                    line = await adapter.attention()            # "task … completed; task … needs input: …"
                    if not line:
                        break
                    messages.append(user_message(line))

    A `TaskClient` built with an `elicitation_callback` answers questions itself while `task_result`
    waits. Protocol errors of a call (unknown tool, bad arguments, a malformed answer) come back as
    one-line `error:` text so the model can correct itself; transport failures raise.
    """

    def __init__(
        self,
        client: TaskClient,
        *,
        result_timeout_s: float | None = None,
        attention: bool = False,
        model_name: str = "agent",
    ) -> None:
        self.client = client
        self.result_timeout_s = result_timeout_s
        self.attention_in_results = attention
        self.model_name = model_name  # the `model` of a sampling answer given as plain text
        self.handles: dict[str, TaskHandle] = {}
        self.tool_of: dict[str, str] = {}
        self.watch = Attention()

    async def tools(self) -> list[dict[str, Any]]:
        """The server's tools (every page of `tools/list`), then the task tools."""
        specs = [
            {"name": t.name, "description": t.description or "", "parameters": t.input_schema}
            for t in await self.server_tools()
        ]
        return specs + [dict(t) for t in TASK_TOOLS]

    async def server_tools(self) -> list[types.Tool]:
        """Every page of the server's `tools/list`; refuses names that clash with the task tools."""
        tools: list[types.Tool] = []
        cursor: str | None = None
        while True:
            page = await self.client.sdk.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        taken = {t.name for t in tools} & set(TASK_TOOL_NAMES)
        if taken:
            raise ValueError(f"the server has tools named like the adapter's task tools: {sorted(taken)}")
        return tools

    def remember(self, task_id: str, tool: str | None) -> None:
        """Follow a task started earlier (say, by this program before a restart) like one started here."""
        if tool:
            self.tool_of[task_id] = tool
        self.watch.watch(task_id, tool)

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> str:
        """Run one tool call from the model; return the text for its tool-result message."""
        text = result_text(await self.run(name, arguments))
        if self.attention_in_results:
            line = await self.attention()
            if line:
                text = f"{text}\n{line}"
        return text

    async def run(self, name: str, arguments: Mapping[str, Any] | None = None) -> CallToolResult:
        """`call` as an MCP tool result: the tool's own result when inline or finished, else one text line."""
        args = dict(arguments or {})
        if name not in TASK_TOOL_NAMES:
            return await self.start(name, args)
        task_id = args.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            return _text_result(f"error: {name} needs a task_id (a string)")
        if name == "task_result":
            outcome = await self.task_outcome(task_id)
            return outcome if isinstance(outcome, CallToolResult) else _text_result(outcome)
        if name == "task_status":
            return _text_result(await self.task_status(task_id))
        if name == "task_cancel":
            return _text_result(await self.task_cancel(task_id))
        if name == "task_read":  # a slice of a large result the server kept as a resource link
            return _text_result(await TaskReader(self.client).call(args))
        key = args.get("key")
        if not isinstance(key, str) or not key:
            return _text_result("error: task_answer needs a key (a string, shown as [key K] with the question)")
        if "answer" not in args:
            return _text_result("error: task_answer needs an answer")
        return _text_result(await self.task_answer(task_id, key, args["answer"]))

    async def start(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call a server tool; a task becomes its handle line."""
        try:
            outcome = await self.client.start_tool(name, arguments)
        except MCPError as exc:
            return _text_result(_one_line(f"error: {name}: {exc.message} (JSON-RPC error {exc.code})"))
        except (TaskError, TransportProblem) as exc:
            return _text_result(_one_line(f"error: {name}: {exc}"))
        if not isinstance(outcome, TaskHandle):
            return outcome
        self.handles[outcome.task_id] = outcome
        self.remember(outcome.task_id, name)
        status = outcome.status_value or "working"
        return _text_result(
            f"task {outcome.task_id} started (tool {name}, status {status}); "
            f"call task_result with task_id={outcome.task_id} to get the outcome"
        )

    def _handle(self, task_id: str) -> TaskHandle:
        handle = self.handles.get(task_id)
        if handle is None:
            handle = self.handles[task_id] = self.client.handle(task_id)
        return handle

    def _label(self, task_id: str) -> str:
        tool = self.tool_of.get(task_id)
        if tool is None and self.client.journal is not None:
            entry = self.client.journal.get(self.client.url, task_id)
            tool = entry.tool if entry is not None else None
            if tool:
                self.tool_of[task_id] = tool
        return f"task {task_id}" + (f" (tool {tool})" if tool else "")

    def _needs_input(self, task_id: str, task: Mapping[str, Any]) -> str | None:
        """The line for a task waiting on questions not answered yet, else None."""
        handle = self._handle(task_id)
        pending = pending_questions(task, handle.answered)
        if task.get("status") != "input_required" or not pending:
            return None
        first = next(iter(pending.values()))
        hint = answer_hint(first if isinstance(first, Mapping) else {})
        return _one_line(
            f"{self._label(task_id)} needs input: {describe_questions(pending)}; "
            f"answer with task_answer(task_id={task_id}, key=<key>, {hint})"
        )

    async def task_result(self, task_id: str) -> str:
        """`task_outcome` as text."""
        outcome = await self.task_outcome(task_id)
        return result_text(outcome) if isinstance(outcome, CallToolResult) else outcome

    @_error_line
    async def task_outcome(self, task_id: str) -> CallToolResult | str:
        """Wait for the task: its result, or one line when it ended otherwise or needs an answer."""
        handle = self._handle(task_id)
        label = self._label(task_id)
        line: str | None = None
        try:
            result = await handle.result(timeout=self.result_timeout_s)
        except TaskFailed as exc:
            detail = exc.status_message or exc.error_message
            line = _one_line(f"{label} failed: {detail} (JSON-RPC error {exc.code})")
        except TaskCancelled as exc:
            line = _one_line(f"{label} was cancelled" + (f": {exc.status_message}" if exc.status_message else ""))
        except TaskTimeout:
            line = _one_line(
                f"{label} is still {handle.status_value or 'working'} after {self.result_timeout_s:g} s; "
                f"call task_result again later"
            )
        except InputUnhandled as exc:
            task = handle.last or {}
            line = self._needs_input(task_id, task) or _one_line(f"{label} is waiting for input: {exc}")
        if handle.last is not None:
            self.watch.told(task_id, handle.last, handle.answered)
        return result if line is None else line

    @_error_line
    async def task_status(self, task_id: str) -> str:
        """One line: the task's status and statusMessage, or its questions, without waiting."""
        label = self._label(task_id)
        handle = self._handle(task_id)
        task = await handle.status()
        self.watch.told(task_id, task, handle.answered)
        asking = self._needs_input(task_id, task)
        if asking is not None:
            return asking
        status = str(task["status"])
        message = task.get("statusMessage")
        line = f"{label}: {status}" + (f" ({message})" if message else "")
        if status in TERMINAL:
            line += "; call task_result to get the outcome"
        return _one_line(line)

    @_error_line
    async def task_answer(self, task_id: str, key: str, answer: Any) -> str:
        """Check `answer` against the question under `key`, then send it with `tasks/update`; one line."""
        label = self._label(task_id)
        handle = self._handle(task_id)
        task = await handle.status()
        status = str(task["status"])
        if status in TERMINAL:
            return f"error: {label} is already {status}; there is nothing to answer"
        if key in handle.answered:
            return f"{label}: the question {key} was already answered"
        pending = pending_questions(task, handle.answered)
        request = pending.get(key)
        if not isinstance(request, Mapping):
            listing = ", ".join(pending) or "none"
            return _one_line(f"error: {label} has no pending question with key {key!r} (pending: {listing})")
        full = expand_answer(request, answer, model=self.model_name)
        problems = check_answer(request, full)
        if problems:
            return _one_line(
                f"error: answer not sent: {'; '.join(problems)}. The question: {describe_question(key, request)}; "
                f"{answer_hint(request)}"
            )
        await handle.answer({key: full})
        rest = {k: v for k, v in pending.items() if k != key}
        self.watch.told(task_id, task, handle.answered)
        if rest:
            return _one_line(f"{label}: answer to {key} sent; still waiting for: {describe_questions(rest)}")
        return f"{label}: answer to {key} sent; the task resumes"

    @_error_line
    async def task_cancel(self, task_id: str) -> str:
        """Ask the server to stop the task; one line."""
        await self._handle(task_id).cancel()
        return f"{self._label(task_id)}: cancellation requested"

    async def attention(self) -> str:
        """One line of news about the tasks started here (ended, or asking), or "" when there is none.

        Each watched task is looked up once (`tasks/get`, by the harness, outside the window); what
        the model already saw in a task_status, task_result or task_answer answer is not repeated. A
        task the server no longer knows (expired, say) is told once and dropped, from the journal too;
        one that cannot be looked up right now (the server is down) is tried again next time.
        """
        parts: list[str] = []
        for task_id in list(self.watch.watched):
            handle = self._handle(task_id)
            try:
                task = await handle.status()
            except (TaskError, TransportProblem) as exc:  # a server down now is asked again next time
                cause = exc.__cause__
                if isinstance(cause, RpcError) and cause.code == INVALID_PARAMS:
                    parts.append(_one_line(f"{self._label(task_id)} is no longer known to the server: {cause.message}"))
                    self.watch.watched.pop(task_id, None)
                    if self.client.journal is not None:
                        self.client.journal.forget(self.client.url, task_id)
                continue
            parts.append(self.watch.news(task_id, task, handle.answered))
        return Attention.line(parts)
