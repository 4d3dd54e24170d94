"""offload: durable MCP Tasks (io.modelcontextprotocol/tasks, SEP-2663) for the official MCP Python SDK."""

from offload.runtime import TaskPolicy
from offload.server import Tasks

__version__ = "0.1.0"
__all__ = ["TaskPolicy", "Tasks", "__version__"]
