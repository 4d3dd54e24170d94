"""The MCP server surface: the Tasks extension and the HTTP app around it."""

from offload.server.extension import Tasks, create_task_result

__all__ = ["Tasks", "create_task_result"]
