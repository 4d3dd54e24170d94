"""A direct path for `tasks/get`, the request a polling client repeats most.

Through the SDK a `tasks/get` costs several hundred microseconds of CPU, most of it generic
request machinery (validation models, middleware chain, a task group per SSE-capable exchange).
This ASGI wrapper answers the canonical, well-formed request itself: the same checks, the same
lookup, the same JSON. Anything it does not recognise exactly (another method, a malformed or
unusual body, a failed check, an unknown task) goes to the SDK untouched, body replayed, so every
error keeps the SDK's wording and status. It sits inside the auth middleware, so the caller's
identity is known, and applies the same Host/Origin rules as the transport.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offload.protocol import EXTENSION_ID, MODERN_VERSION, detailed_task
from offload.server import bridge
from offload.server.extension import Tasks
from offload.server.listen import mcp_name_admits, strict_mcp_name
from offload.store import now_ms

MAX_BODY = 16 * 1024
_ROUTING = (b"mcp-method", b"mcp-name", b"mcp-protocol-version")
_META_VERSION = "io.modelcontextprotocol/protocolVersion"
_META_CAPS = "io.modelcontextprotocol/clientCapabilities"


class FastTaskGet:
    """Wraps the MCP endpoint; see the module docstring."""

    def __init__(self, app: ASGIApp, tasks: Tasks, server_info: dict[str, Any], security: TransportSecuritySettings):
        self.app = app
        self.tasks = tasks
        self.server_info = server_info
        self.hosts = _Allowed(security.allowed_hosts)
        self.origins = _Allowed(security.allowed_origins)
        self.check_hosts = security.enable_dns_rebinding_protection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not self.tasks.runtime.started:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if headers is None or headers.get(b"mcp-method") != b"tasks/get" or not self._acceptable(headers):
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        if complete:
            reply = await self._answer(body, headers)
            if reply is not None:
                await _send_json(send, reply)
                return
        await self.app(scope, _replay(body, complete, receive), send)

    def _acceptable(self, headers: dict[bytes, bytes]) -> bool:
        accept = headers.get(b"accept", b"")
        if b"application/json" not in accept or b"text/event-stream" not in accept:
            return False
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            return False
        if headers.get(b"mcp-protocol-version") != MODERN_VERSION.encode():
            return False
        if self.check_hosts:
            if not self.hosts.admits(headers.get(b"host", b"").decode("latin-1")):
                return False
            origin = headers.get(b"origin")
            if origin is not None and not self.origins.admits(origin.decode("latin-1")):
                return False
        return True

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
        if meta.get(_META_VERSION) != MODERN_VERSION or not _declares_tasks(meta.get(_META_CAPS)):
            return None
        name = headers.get(b"mcp-name")
        # The same routing-header rule as the SDK path (listen.mcp_name_admits); a refusal is worded there.
        if not mcp_name_admits(
            None if name is None else name.decode("latin-1"),
            task_id,
            strict=strict_mcp_name(self.tasks),
            protocol_version=MODERN_VERSION,
        ):
            return None
        record = await self.tasks.store.get(task_id)
        if record is None or record.principal != bridge.current_principal() or record.expired(now_ms()):
            return None  # the SDK path words the error
        result = detailed_task(record)
        result["resultType"] = "complete"
        result["_meta"] = {"io.modelcontextprotocol/serverInfo": self.server_info}
        return json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}, separators=(",", ":")).encode()


def _declares_tasks(caps: Any) -> bool:
    return isinstance(caps, dict) and isinstance(ext := caps.get("extensions"), dict) and EXTENSION_ID in ext


def _headers(scope: Scope) -> dict[bytes, bytes] | None:
    """Lower-cased headers, or None when a routing header is repeated (the SDK rejects that)."""
    out: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        key = name.lower()
        if key in out and key in _ROUTING:
            return None
        out[key] = value
    return out


class _Allowed:
    """Host/Origin matching with the transport's rules: exact, or `name:*` for any port."""

    def __init__(self, allowed: list[str]) -> None:
        self.exact = frozenset(allowed)
        self.prefixes = tuple(a[:-1] for a in allowed if a.endswith(":*"))

    def admits(self, value: str) -> bool:
        return bool(value) and (value in self.exact or value.startswith(self.prefixes))


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


async def _send_json(send: Send, payload: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
