"""Task-aware clients: transparent calls, task handles, a durable journal."""

from offload.client.errors import InputUnhandled, TaskCancelled, TaskError, TaskFailed, TaskTimeout
from offload.client.journal import Journal, JournalEntry
from offload.client.tasks import CreateTaskResult, TaskClient, TaskHandle, TasksClientExtension
from offload.client.wire import Reply, RpcError, Unavailable, WireClient

__all__ = [
    "CreateTaskResult",
    "InputUnhandled",
    "Journal",
    "JournalEntry",
    "Reply",
    "RpcError",
    "TaskCancelled",
    "TaskClient",
    "TaskError",
    "TaskFailed",
    "TaskHandle",
    "TaskTimeout",
    "TasksClientExtension",
    "Unavailable",
    "WireClient",
]
