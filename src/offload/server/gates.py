"""The per-request capability gate: 2026-07-28 declares capabilities on every request."""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from offload.protocol import EXTENSION_ID, MISSING_REQUIRED_CLIENT_CAPABILITY, required_capabilities_data


def declares_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Did this request (not the connection: 2026-07-28 is per request) declare the extension?"""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False  # a 2025-11-25 client cannot receive a task (sdk-hooks friction 2)
    caps = ctx.session.client_capabilities
    return bool(caps is not None and caps.extensions and EXTENSION_ID in caps.extensions)


def missing_capability(what: str) -> MCPError:
    return MCPError(
        code=MISSING_REQUIRED_CLIENT_CAPABILITY,
        message=f"{what} requires the client to declare the {EXTENSION_ID} extension",
        data=required_capabilities_data(),
    )
