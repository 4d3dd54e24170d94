"""The MCP server surface: the Tasks extension and the HTTP app around it."""

from offload.server.extension import Tasks

__all__ = ["Tasks"]
