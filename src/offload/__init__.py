"""offload: durable MCP Tasks (io.modelcontextprotocol/tasks, SEP-2663) for the official MCP Python SDK.

The names below are imported on first use, so `import offload.client` does not load the server
(and the server does not load the client).

    from offload import Tasks, TaskPolicy          # a server
    from offload import TaskClient, TaskHandle     # a client
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "Tasks": "offload.server",
    "TaskPolicy": "offload.runtime",
    "TaskMode": "offload.runtime",
    "TaskClient": "offload.client",
    "TaskHandle": "offload.client",
    "TaskError": "offload.client",
    "TaskFailed": "offload.client",
    "TaskCancelled": "offload.client",
    "TaskTimeout": "offload.client",
    "open_store": "offload.store",
    "TaskStore": "offload.store",
    "TaskStatus": "offload.protocol",
    "step": "offload.runtime",
}

__all__ = [
    "TaskCancelled",
    "TaskClient",
    "TaskError",
    "TaskFailed",
    "TaskHandle",
    "TaskMode",
    "TaskPolicy",
    "TaskStatus",
    "TaskStore",
    "TaskTimeout",
    "Tasks",
    "__version__",
    "open_store",
    "step",
]

if TYPE_CHECKING:
    from offload.client import TaskCancelled as TaskCancelled
    from offload.client import TaskClient as TaskClient
    from offload.client import TaskError as TaskError
    from offload.client import TaskFailed as TaskFailed
    from offload.client import TaskHandle as TaskHandle
    from offload.client import TaskTimeout as TaskTimeout
    from offload.protocol import TaskStatus as TaskStatus
    from offload.runtime import TaskMode as TaskMode
    from offload.runtime import TaskPolicy as TaskPolicy
    from offload.runtime import step as step
    from offload.server import Tasks as Tasks
    from offload.store import TaskStore as TaskStore
    from offload.store import open_store as open_store


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'offload' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
