"""The MCP server surface: the Tasks extension and the HTTP app around it."""

from offload.server.bridge import publish_event
from offload.server.extension import Tasks

__all__ = ["Tasks", "publish_event"]
