"""A direct path for `tasks/get`, the request a polling client repeats most.

Through the SDK a `tasks/get` costs several hundred microseconds of CPU, most of it generic
request machinery (validation models, middleware chain, a task group per SSE-capable exchange).
This ASGI wrapper answers the canonical, well-formed request itself: the same checks, the same
lookup, the same JSON. Anything it does not recognise exactly (another method, a malformed or
unusual body, a failed check, an unknown task) goes to the SDK untouched, body replayed, so every
error keeps the SDK's wording and status. It sits inside the auth middleware, so the caller's
identity is known; the Host/Origin check is the SDK's own (`TransportSecurityMiddleware`), and the
answer comes from the one tasks/get handler (`handlers.py`).
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offload.protocol import (
    CLIENT_CAPABILITIES_META_KEY,
    MODERN_VERSION,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
    declares_extension,
)
from offload.server import bridge
from offload.server.faults import INCIDENTS, RETRY_AFTER_S, store_error
from offload.server.handlers import TaskHandlers
from offload.server.middleware import mcp_name_admits
from offload.store import StoreError

__all__ = ["FastTaskGet"]

MAX_BODY = 16 * 1024
_ROUTING = (b"mcp-method", b"mcp-name", b"mcp-protocol-version")


class FastTaskGet:
    """Wraps the MCP endpoint; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        handlers: TaskHandlers,
        server_info: dict[str, Any],
        security: TransportSecuritySettings,
        *,
        strict_mcp_name: bool = False,
    ):
        self.app = app
        self.strict_mcp_name = strict_mcp_name
        self.handlers = handlers
        self.meta = {SERVER_INFO_META_KEY: server_info}
        self.security = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not self.handlers.runtime.started:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if headers is None or headers.get(b"mcp-method") != b"tasks/get" or not self._acceptable(headers):
            await self.app(scope, receive, send)
            return
        if await self.security.validate_request(Request(scope), is_post=True) is not None:
            await self.app(scope, receive, send)  # the transport answers the refusal, in its words
            return
        body, complete = await _read_body(receive)
        if complete:
            try:
                reply = await self._answer(body, headers)
            except StoreError as exc:
                # The store is down: say so at once, with HTTP 503 and Retry-After (the SDK path would
                # answer the same JSON-RPC error, but cannot set the status).
                await _send_json(send, _error_body(body, store_error(exc)), status=503, retry_after=RETRY_AFTER_S)
                return
            if reply is not None:
                if INCIDENTS.since is not None:
                    INCIDENTS.recovered()
                await _send_json(send, reply)
                return
        await self.app(scope, _replay(body, complete, receive), send)

    def _acceptable(self, headers: dict[bytes, bytes]) -> bool:
        accept = headers.get(b"accept", b"")
        if b"application/json" not in accept or b"text/event-stream" not in accept:
            return False
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            return False
        return headers.get(b"mcp-protocol-version") == MODERN_VERSION.encode()

    async def _answer(self, body: bytes, headers: dict[bytes, bytes]) -> bytes | None:
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(message, dict) or message.keys() != {"jsonrpc", "id", "method", "params"}:
            return None
        rid = message["id"]
        params = message["params"]
        if (
            message["jsonrpc"] != "2.0"
            or message["method"] != "tasks/get"
            or isinstance(rid, bool)
            or not isinstance(rid, int | str)
            or not isinstance(params, dict)
            or not params.keys() <= {"taskId", "_meta"}
        ):
            return None
        task_id = params.get("taskId")
        meta = params.get("_meta")
        if not isinstance(task_id, str) or not 0 < len(task_id) <= 256 or not isinstance(meta, dict):
            return None
        if meta.get(PROTOCOL_VERSION_META_KEY) != MODERN_VERSION:
            return None
        if not declares_extension(meta.get(CLIENT_CAPABILITIES_META_KEY)):
            return None
        name = headers.get(b"mcp-name")
        # The routing-header rule of the SDK path (middleware.mcp_name_admits); a refusal is worded there.
        if not mcp_name_admits(None if name is None else name.decode("latin-1"), task_id, strict=self.strict_mcp_name):
            return None
        result = await self.handlers.peek(task_id, bridge.current_principal())
        if result is None:
            return None  # the SDK path words the error
        result["_meta"] = self.meta
        return json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}, separators=(",", ":")).encode()


def _headers(scope: Scope) -> dict[bytes, bytes] | None:
    """Lower-cased headers, or None when a routing header is repeated (the SDK rejects that)."""
    out: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        key = name.lower()
        if key in out and key in _ROUTING:
            return None
        out[key] = value
    return out


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """Up to MAX_BODY bytes; `complete` is False when the body is larger (the SDK then handles it)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_BODY:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A `receive` that first hands back what was already read."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay


def _error_body(body: bytes, error: MCPError) -> bytes:
    try:
        rid = json.loads(body).get("id")
    except (ValueError, AttributeError, RecursionError):
        rid = None
    payload = {"jsonrpc": "2.0", "id": rid, "error": error.error.model_dump(by_alias=True, exclude_none=True)}
    return json.dumps(payload, separators=(",", ":")).encode()


async def _send_json(send: Send, payload: bytes, *, status: int = 200, retry_after: int | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
