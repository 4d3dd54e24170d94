"""JSON-RPC error codes and messages the extension uses (tasks.md "Error Handling").

The core codes come from the SDK's `mcp_types`. The two offload-specific codes sit in the
implementation-defined server-error range (-32000 to -32099), away from the codes the 2026-07-28
revision reserves (-32001 is kept for legacy request timeouts, -32020/-32021 are assigned).
"""

from __future__ import annotations

from typing import Any, Final

from mcp_types import HEADER_MISMATCH, INTERNAL_ERROR, INVALID_PARAMS, MISSING_REQUIRED_CLIENT_CAPABILITY

from offload.protocol.meta import EXTENSION_ID

#: A task that waited longer than its input deadline for an answer to an inputRequest.
INPUT_TIMEOUT: Final = -32050
#: A task whose instance stopped while running it, and whose tool is not safe to run again.
WORKER_LOST: Final = -32051
#: A `subscriptions/listen` stream ended because its reader fell behind and notifications were dropped.
LISTEN_OVERFLOW: Final = -32052
#: Over an admission limit: too many tasks in flight on the instance, too many unfinished tasks for
#: the caller, or too many notification streams. Nothing was created; `data` says the limit.
TOO_MANY_TASKS: Final = -32054
#: A task whose time to live ran out before it finished (tasks.md: "servers MAY mark a task as failed
#: at any point after the TTL elapses").
TTL_EXPIRED: Final = -32053

NOT_FOUND_MESSAGE: Final = "Failed to retrieve task: Task not found"
EXPIRED_MESSAGE: Final = "Failed to retrieve task: Task has expired"


def required_capabilities_data() -> dict[str, Any]:
    """`data` of a -32021 error naming this extension (the draft schema requires it)."""
    return {"requiredCapabilities": {"extensions": {EXTENSION_ID: {}}}}


__all__ = [
    "EXPIRED_MESSAGE",
    "HEADER_MISMATCH",
    "INPUT_TIMEOUT",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "LISTEN_OVERFLOW",
    "MISSING_REQUIRED_CLIENT_CAPABILITY",
    "NOT_FOUND_MESSAGE",
    "TOO_MANY_TASKS",
    "TTL_EXPIRED",
    "WORKER_LOST",
    "required_capabilities_data",
]
