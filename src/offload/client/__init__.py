"""Task-aware clients: transparent calls, task handles, a durable journal.

Nothing here imports the server side: `import offload.client` is enough for a program that only calls.
Names load on first use (PEP 562), so a command that only needs the wire client or the journal does
not pay for importing the SDK's client.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offload.client.errors import (
        BadResponse,
        InputUnhandled,
        OffloadClientError,
        RpcError,
        TaskCancelled,
        TaskError,
        TaskFailed,
        TaskTimeout,
        TransportProblem,
        Unavailable,
        Unreachable,
    )
    from offload.client.journal import Journal, JournalEntry
    from offload.client.tasks import CreateTaskResult, TaskClient, TaskHandle, TasksClientExtension
    from offload.client.wire import Reply, WireClient

__all__ = [
    "BadResponse",
    "CreateTaskResult",
    "InputUnhandled",
    "Journal",
    "JournalEntry",
    "OffloadClientError",
    "Reply",
    "RpcError",
    "TaskCancelled",
    "TaskClient",
    "TaskError",
    "TaskFailed",
    "TaskHandle",
    "TaskTimeout",
    "TasksClientExtension",
    "TransportProblem",
    "Unavailable",
    "Unreachable",
    "WireClient",
]

_HOME = {
    "BadResponse": "errors",
    "InputUnhandled": "errors",
    "OffloadClientError": "errors",
    "RpcError": "errors",
    "TaskCancelled": "errors",
    "TaskError": "errors",
    "TaskFailed": "errors",
    "TaskTimeout": "errors",
    "TransportProblem": "errors",
    "Unavailable": "errors",
    "Unreachable": "errors",
    "Journal": "journal",
    "JournalEntry": "journal",
    "CreateTaskResult": "tasks",
    "TaskClient": "tasks",
    "TaskHandle": "tasks",
    "TasksClientExtension": "tasks",
    "Reply": "wire",
    "WireClient": "wire",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'offload.client' has no attribute {name!r}")
    value = getattr(import_module(f"offload.client.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
