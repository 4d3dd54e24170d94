"""Wire shapes of the Tasks extension (SEP-2663): names, statuses, params and result dicts.

This is the lowest layer: it knows the JSON the spec defines and nothing about storage,
execution or the SDK's server machinery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Literal

from mcp_types import RequestParams
from pydantic import ConfigDict, Field

EXTENSION_ID: Final = "io.modelcontextprotocol/tasks"
MODERN_VERSION: Final = "2026-07-28"

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
TERMINAL: Final[frozenset[str]] = frozenset({"completed", "failed", "cancelled"})
STATUSES: Final[frozenset[str]] = frozenset({"working", "input_required"}) | TERMINAL

TASK_METHODS: Final = ("tasks/get", "tasks/update", "tasks/cancel")

# JSON-RPC error codes the spec names (tasks.md "Error Handling"; base protocol for -32020/-32021).
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
HEADER_MISMATCH: Final = -32020
MISSING_REQUIRED_CLIENT_CAPABILITY: Final = -32021

NOT_FOUND_MESSAGE: Final = "Failed to retrieve task: Task not found"
EXPIRED_MESSAGE: Final = "Failed to retrieve task: Task has expired"


def required_capabilities_data() -> dict[str, Any]:
    """`data` of a -32021 error naming this extension (the draft schema requires it)."""
    return {"requiredCapabilities": {"extensions": {EXTENSION_ID: {}}}}


_second: tuple[int, str] = (-1, "")


def iso_ms(epoch_ms: int) -> str:
    """ISO 8601 UTC timestamp with millisecond precision, as `createdAt`/`lastUpdatedAt` use."""
    global _second
    seconds, millis = divmod(epoch_ms, 1000)
    cached_seconds, prefix = _second
    if seconds != cached_seconds:  # formatting is the costly part, and a poll storm stays in one second
        prefix = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (seconds, prefix)
    return f"{prefix}.{millis:03d}Z"


class TaskIdParams(RequestParams):
    """Params of `tasks/get` and `tasks/cancel`."""

    model_config = ConfigDict(extra="ignore")
    task_id: str = Field(alias="taskId", max_length=256)


class UpdateTaskParams(TaskIdParams):
    """Params of `tasks/update`; answers are opaque per key (MRTR shape), validated by the waiting tool."""

    input_responses: dict[str, Any] = Field(alias="inputResponses")


REQUEST_TIMEOUT: Final = -32001
