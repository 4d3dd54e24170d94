"""Task-aware clients: transparent calls, task handles, a durable journal.

Nothing here imports the server side: `import offload.client` is enough for a program that only calls.
"""

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
