"""Identifiers of the extension and the per-request envelope keys of 2026-07-28."""

from __future__ import annotations

from typing import Any, Final

from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
)

EXTENSION_ID: Final = "io.modelcontextprotocol/tasks"
MODERN_VERSION: Final = "2026-07-28"
TASK_METHODS: Final = ("tasks/get", "tasks/update", "tasks/cancel")


def declares_extension(capabilities: Any) -> bool:
    """Whether a client-capabilities object (as JSON) declares this extension."""
    return (
        isinstance(capabilities, dict)
        and isinstance(extensions := capabilities.get("extensions"), dict)
        and EXTENSION_ID in extensions
    )


__all__ = [
    "CLIENT_CAPABILITIES_META_KEY",
    "CLIENT_INFO_META_KEY",
    "EXTENSION_ID",
    "MODERN_VERSION",
    "PROTOCOL_VERSION_META_KEY",
    "SERVER_INFO_META_KEY",
    "TASK_METHODS",
    "declares_extension",
]
