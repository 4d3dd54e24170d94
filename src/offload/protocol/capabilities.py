"""Which client capability a server-to-client request needs (2026-07-28 declares them per request).

A task's `inputRequests` are answered by the client that made the call, so offload asks only for
what that client declared (tasks.md: an input request is treated "as the equivalent standalone
server-to-client request", which a server sends only to a client with the capability).
"""

from __future__ import annotations

from typing import Any

__all__ = ["missing_for"]


def _has(caps: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = caps.get(name)
    return value if isinstance(value, dict) else None


def missing_for(method: str, params: dict[str, Any], capabilities: Any) -> dict[str, Any] | None:
    """The `requiredCapabilities` the client lacks to answer this request, or None if it can.

    `capabilities` is the client's declared capabilities as JSON; None means unknown (not gated).
    An empty `elicitation` object means form mode only, as the elicitation spec keeps it for
    clients written before URL mode.
    """
    if capabilities is None:
        return None
    caps = capabilities if isinstance(capabilities, dict) else {}
    if method == "elicitation/create":
        elicitation = _has(caps, "elicitation")
        mode = params.get("mode") or "form"
        if elicitation is None:
            return {"elicitation": {mode: {}}}
        if mode == "url" and "url" not in elicitation:
            return {"elicitation": {"url": {}}}
        if mode == "form" and elicitation and "form" not in elicitation:
            return {"elicitation": {"form": {}}}
        return None
    if method == "sampling/createMessage":
        sampling = _has(caps, "sampling")
        if sampling is None:
            return {"sampling": {"tools": {}} if params.get("tools") else {}}
        if params.get("tools") and "tools" not in sampling:
            return {"sampling": {"tools": {}}}
        return None
    if method == "roots/list":
        return None if _has(caps, "roots") is not None else {"roots": {}}
    return None
