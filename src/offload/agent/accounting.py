"""What a long tool call costs an agent's context window.

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
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from offload.client import Reply, TaskClient, WireClient

__all__ = [
    "TOKEN_METHOD",
    "ContextReport",
    "Window",
    "approx_tokens",
    "call_blocking",
    "compact",
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


def compact(message: Any) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def window_size(messages: list[Any]) -> tuple[int, int]:
    """`(bytes, tokens)` of messages handed to an agent: compact JSON, UTF-8, summed per message."""
    texts = [compact(m) for m in messages]
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


async def call_blocking(
    url: str, params: dict[str, Any], *, token: str | None, timeout_s: float, meta: dict[str, Any] | None = None
) -> tuple[Reply, float]:
    """`tools/call` as a client without the tasks extension makes it, and the seconds until its whole
    answer arrived: the baseline that each measurement here compares a task with."""
    t0 = time.monotonic()
    async with WireClient(url, tasks=False, token=token, timeout=timeout_s) as wire:
        reply = await wire.call("tools/call", params, meta=meta)
    return reply, time.monotonic() - t0


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

    blocking, blocking_seconds = await call_blocking(url, params, token=token, timeout_s=timeout_s, meta=opt_in())
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


@dataclass
class Window:
    """What entered an agent's context window, message by message, each tagged with a kind.

    A scripted loop adds every text it hands the model: tool results ("tool"), attention lines
    ("attention"), and whatever else it wants counted. Sizes are UTF-8 bytes of the text as given
    (a tool result reaches a model as text) and `approx_tokens`.
    """

    entries: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: str, text: str) -> str:
        """Record `text` as entering the window; return it, so a loop can write `messages.append(w.add(...))`."""
        self.entries.append((kind, text))
        return text

    def texts(self, kind: str | None = None) -> list[str]:
        return [t for k, t in self.entries if kind is None or k == kind]

    def bytes(self, kind: str | None = None) -> int:
        return sum(len(t.encode()) for t in self.texts(kind))

    def tokens(self, kind: str | None = None) -> int:
        return sum(approx_tokens(t) for t in self.texts(kind))

    def count(self, kind: str | None = None) -> int:
        return len(self.texts(kind))
