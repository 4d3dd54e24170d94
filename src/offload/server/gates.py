"""The per-request capability gate: 2026-07-28 declares capabilities on every request."""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from offload.protocol import (
    EXTENSION_ID,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    MODERN_VERSION,
    required_capabilities_data,
)


def declares_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Did this request (not the connection: 2026-07-28 is per request) declare the extension?"""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False  # a 2025-11-25 client cannot receive a task (sdk-hooks friction 2)
    caps = ctx.session.client_capabilities
    return bool(caps is not None and caps.extensions and EXTENSION_ID in caps.extensions)


def missing_capability(what: str) -> MCPError:
    """-32021 naming this extension (tasks.md "Capability Negotiation")."""
    return MCPError(
        code=MISSING_REQUIRED_CLIENT_CAPABILITY,
        message=f"{what} requires the client to declare the {EXTENSION_ID} extension",
        data=required_capabilities_data(),
    )


def needs_task(ctx: ServerRequestContext[Any, Any], tool: str) -> MCPError:
    """-32021 for a call that can only be served as a task, worded for the client that made it."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        # A 2025-11-25 client cannot declare the extension at all: say what would work instead.
        return MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message=f"Tool {tool!r} runs only as a task; this {ctx.protocol_version} client cannot receive one. "
            f"Call it from a {MODERN_VERSION} client that declares the {EXTENSION_ID} extension "
            "(for example `offload call`), or through `offload bridge`.",
            data=required_capabilities_data(),
        )
    return missing_capability(f"Tool {tool!r}")


def needs_task_for_input(tool: str, method: str) -> MCPError:
    """-32021 for an inline call whose tool asked the client something it has no channel for."""
    return MCPError(
        code=MISSING_REQUIRED_CLIENT_CAPABILITY,
        message=f"Tool {tool!r} asked the client for input ({method}) in the middle of the call. A 2026-07-28 "
        f"request has no channel for that unless it declares the {EXTENSION_ID} extension, so the call can "
        "become a task whose inputRequests the client answers with tasks/update.",
        data=required_capabilities_data(),
    )
