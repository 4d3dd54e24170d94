"""Wire shapes of the Tasks extension (SEP-2663): statuses, error codes, meta keys, params, rendering.

This is the lowest layer: it knows the JSON the spec defines and nothing about storage, execution
or the SDK's server machinery. Names the SDK already exports (meta keys, core error codes) are
re-exported from `mcp_types`, not redefined.
"""

from offload.protocol.codes import (
    EXPIRED_MESSAGE,
    HEADER_MISMATCH,
    INPUT_TIMEOUT,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    LISTEN_OVERFLOW,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    NOT_FOUND_MESSAGE,
    TOO_MANY_TASKS,
    TTL_EXPIRED,
    WORKER_LOST,
    required_capabilities_data,
)
from offload.protocol.meta import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    EXTENSION_ID,
    MODERN_VERSION,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
    TASK_METHODS,
    declares_extension,
)
from offload.protocol.params import TaskIdParams, UpdateTaskParams
from offload.protocol.render import TaskState, create_task_result, detailed_task, iso_ms
from offload.protocol.status import LIVE, TERMINAL, TaskStatus

__all__ = [
    "CLIENT_CAPABILITIES_META_KEY",
    "CLIENT_INFO_META_KEY",
    "EXPIRED_MESSAGE",
    "EXTENSION_ID",
    "HEADER_MISMATCH",
    "INPUT_TIMEOUT",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "LISTEN_OVERFLOW",
    "LIVE",
    "MISSING_REQUIRED_CLIENT_CAPABILITY",
    "MODERN_VERSION",
    "NOT_FOUND_MESSAGE",
    "PROTOCOL_VERSION_META_KEY",
    "SERVER_INFO_META_KEY",
    "TASK_METHODS",
    "TERMINAL",
    "TOO_MANY_TASKS",
    "TTL_EXPIRED",
    "WORKER_LOST",
    "TaskIdParams",
    "TaskState",
    "TaskStatus",
    "UpdateTaskParams",
    "create_task_result",
    "declares_extension",
    "detailed_task",
    "iso_ms",
    "required_capabilities_data",
]
