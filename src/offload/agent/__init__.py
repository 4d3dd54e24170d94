"""The agent side of tasks: what a long call costs a context window, and tools an LLM loop can call.

- `offload.agent.accounting`: `measure_context` runs one tool blocking and as a task and counts what
  each puts in the window (`ContextReport`); `Window` records what a scripted loop let in.
- `offload.agent.adapter`: `TaskToolAdapter` presents a server's tools to any LLM tool loop, a task as
  a one-line handle, with `task_status`, `task_result`, `task_answer`, `task_cancel` (`TASK_TOOLS`)
  and an attention line between turns.
"""

from offload.agent.accounting import (
    TOKEN_METHOD,
    ContextReport,
    Window,
    approx_tokens,
    measure_context,
    window_size,
)
from offload.agent.adapter import TASK_TOOL_NAMES, TASK_TOOLS, TaskToolAdapter, result_text

__all__ = [
    "TASK_TOOLS",
    "TASK_TOOL_NAMES",
    "TOKEN_METHOD",
    "ContextReport",
    "TaskToolAdapter",
    "Window",
    "approx_tokens",
    "measure_context",
    "result_text",
    "window_size",
]
