"""A small JSON-RPC client for 2026-07-28 Streamable HTTP: one POST per request, no session.

It builds the per-request envelope (`_meta` with version and capabilities) and the routing
headers the transport asks for (`Mcp-Method`, and `Mcp-Name` for named methods), and reads
either a JSON body or an SSE stream, collecting the notifications that ride on it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from offload.client.errors import BadResponse, RpcError, Unavailable
from offload.protocol import EXTENSION_ID, MODERN_VERSION

__all__ = ["BadResponse", "Reply", "RpcError", "Unavailable", "WireClient"]

_NAME_PARAM = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


@dataclass
class Reply:
    """One request's answer: its result, the notifications streamed before it, and the body size."""

    result: dict[str, Any]
    notifications: list[dict[str, Any]] = field(default_factory=list)
    raw_bytes: int = 0


class WireClient:
    """Raw requests to one MCP endpoint, declaring the tasks extension unless told not to."""

    def __init__(
        self,
        url: str,
        *,
        tasks: bool = True,
        capabilities: dict[str, Any] | None = None,
        token: str | None = None,
        client_info: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        caps = dict(capabilities or {})
        if tasks:
            caps.setdefault("extensions", {})[EXTENSION_ID] = {}
        self.capabilities = caps
        self.client_info = client_info or {"name": "offload", "version": "0.1.0"}
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        # 307/308 keep the method and body (RFC 9110 15.4.8/9): `/mcp/` redirected to `/mcp` works for
        # every method, not only for the SDK's tools/call.
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=True)
        self._ids = itertools.count(1)

    async def __aenter__(self) -> WireClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _meta(self) -> dict[str, Any]:
        return {
            "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
            "io.modelcontextprotocol/clientCapabilities": self.capabilities,
            "io.modelcontextprotocol/clientInfo": self.client_info,
        }

    def _headers_for(self, method: str, params: dict[str, Any]) -> dict[str, str]:
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": MODERN_VERSION,
            "Mcp-Method": method,
            **self._headers,
        }
        name_key = "taskId" if method.startswith("tasks/") else _NAME_PARAM.get(method)
        if name_key is not None and isinstance(params.get(name_key), str):
            headers["Mcp-Name"] = params[name_key]
        return headers

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, meta: dict[str, Any] | None = None
    ) -> Reply:
        """Send one request; return its result and the notifications streamed before it."""
        params = dict(params or {})
        params["_meta"] = {**self._meta(), **(meta or {})}
        headers = self._headers_for(method, params)
        rid = next(self._ids)
        body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        resp = await self._http.post(self.url, json=body, headers=headers)
        raw = resp.content
        if resp.status_code in (429, 502, 503, 504):
            raise Unavailable(resp.status_code, _retry_after(resp.headers.get("retry-after")))
        notes: list[dict[str, Any]] = []
        message: dict[str, Any] | None = None
        if resp.headers.get("content-type", "").startswith("text/event-stream"):
            for line in raw.decode().splitlines():
                if not line.startswith("data:"):
                    continue
                frame = json.loads(line[5:])
                if frame.get("id") == rid and ("result" in frame or "error" in frame):
                    message = frame
                elif "method" in frame:
                    notes.append(frame)
        elif raw:
            try:
                message = json.loads(raw)
            except ValueError:
                message = None
        if message is None:
            if resp.status_code >= 300:
                raise BadResponse(resp.status_code, str(resp.url), _snippet(raw))
            raise RpcError(-32603, f"HTTP {resp.status_code} with no JSON-RPC answer", http_status=resp.status_code)
        if "error" in message:
            err = message["error"]
            raise RpcError(err.get("code", -32603), err.get("message", ""), err.get("data"), resp.status_code)
        return Reply(result=message["result"], notifications=notes, raw_bytes=len(raw))

    async def listen(self, task_ids: list[str]) -> AsyncIterator[dict[str, Any]]:
        """Open `subscriptions/listen` for `taskIds`; yield each notification frame as it arrives.

        The first frame is the acknowledgement. The iterator ends when the server ends the stream;
        network errors propagate, so the caller can fall back to polling.
        """
        params = {"notifications": {"taskIds": list(task_ids)}, "_meta": self._meta()}
        headers = self._headers_for("subscriptions/listen", params)
        body = {"jsonrpc": "2.0", "id": f"listen-{next(self._ids)}", "method": "subscriptions/listen", "params": params}
        async with self._http.stream("POST", self.url, json=body, headers=headers, timeout=None) as resp:
            if resp.status_code != 200 or not resp.headers.get("content-type", "").startswith("text/event-stream"):
                raw = await resp.aread()
                try:
                    err = json.loads(raw).get("error", {})
                except (ValueError, AttributeError):
                    err = {}
                if not err and resp.status_code >= 300:
                    raise BadResponse(resp.status_code, str(resp.url), _snippet(raw))
                raise RpcError(err.get("code", -32603), err.get("message", f"HTTP {resp.status_code}"), err.get("data"))
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    frame = json.loads(line[5:])
                    if "method" in frame:
                        yield frame
                    elif "error" in frame:
                        err = frame["error"]
                        raise RpcError(err.get("code", -32603), err.get("message", ""), err.get("data"))

    async def result(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """`call` for the result alone."""
        return (await self.call(method, params)).result


def _snippet(raw: bytes) -> str:
    """The start of a non-JSON-RPC body, one line, for an error message."""
    text = " ".join(raw[:200].decode(errors="replace").split())
    return text[:80] + ("…" if len(text) > 80 else "")
