"""A raw keep-alive HTTP/1.1 load generator for one MCP endpoint (2026-07-28 wire), on asyncio streams.

An httpx client saturates near 450 requests/s on its own; this one reuses N loopback connections,
sends pre-built request bytes and parses only what it must (status line, Content-Length or chunked
framing, the JSON-RPC message in a JSON body or an SSE stream).

    python benchmarks/load.py --port 8000 --tool noop -c 50 -d 5
    python benchmarks/load.py --port 8000 --task-id ID -c 50 -d 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

PROTOCOL = "2026-07-28"
TASKS_EXT = "io.modelcontextprotocol/tasks"
META = {
    "io.modelcontextprotocol/protocolVersion": PROTOCOL,
    "io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS_EXT: {}}},
    "io.modelcontextprotocol/clientInfo": {"name": "offload-load", "version": "0.1.0"},
}


class RpcError(Exception):
    """The server answered with a JSON-RPC error (or no JSON-RPC message at all)."""


def request_bytes(
    port: int, method: str, params: dict[str, Any], *, path: str = "/mcp", rid: int = 1, meta: dict[str, Any] = META
) -> bytes:
    """One complete POST, headers included, as the 2026-07-28 wire wants it (`_meta` envelope, routing headers).

    `meta` replaces the default envelope: a client declaring more capabilities (elicitation, say).
    """
    body = json.dumps(
        {"jsonrpc": "2.0", "id": rid, "method": method, "params": {**params, "_meta": meta}}, separators=(",", ":")
    ).encode()
    name = params.get("taskId") if method.startswith("tasks/") else params.get("name")
    headers = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Accept: application/json, text/event-stream",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"MCP-Protocol-Version: {PROTOCOL}",
        f"Mcp-Method: {method}",
    ]
    if isinstance(name, str):
        headers.append(f"Mcp-Name: {name}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def call_tool(port: int, tool: str, arguments: dict[str, Any] | None = None) -> bytes:
    return request_bytes(port, "tools/call", {"name": tool, "arguments": arguments or {}})


def get_task(port: int, task_id: str) -> bytes:
    return request_bytes(port, "tasks/get", {"taskId": task_id})


class Connection:
    """One keep-alive connection; `call` sends a request and returns the JSON-RPC result."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        return cls(reader, writer)

    def close(self) -> None:
        self.writer.close()

    async def call(self, data: bytes) -> dict[str, Any]:
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            body = await self._chunked()
        else:
            raise RpcError(f"HTTP {status}: response without Content-Length or chunked framing")
        if headers.get("content-type", "").startswith("text/event-stream"):
            message = _last_sse_message(body)
        else:
            message = json.loads(body) if body else None
        if not isinstance(message, dict) or "result" not in message:
            raise RpcError(f"HTTP {status}: {message.get('error') if isinstance(message, dict) else body[:200]!r}")
        result: dict[str, Any] = message["result"]
        return result

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")  # no trailers are sent: just the final CRLF
                return b"".join(parts)
            parts.append((await self.reader.readexactly(size + 2))[:-2])


def _last_sse_message(body: bytes) -> Any:
    """The JSON-RPC response of an SSE stream: the last `data:` frame that is not a notification."""
    found: Any = None
    for line in body.decode().splitlines():
        if line.startswith("data:"):
            frame = json.loads(line[5:])
            if "method" not in frame:
                found = frame
    return found


@dataclass
class Stats:
    """What one load run measured: operations after the warm-up, their latencies, failures."""

    ops: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency in milliseconds at quantile q (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def merge(self, other: Stats) -> Stats:
        return Stats(
            self.ops + other.ops,
            self.errors + other.errors,
            self.seconds + other.seconds,
            self.latencies + other.latencies,
            self.first_error or other.first_error,
        )

    def line(self) -> str:
        return (
            f"{self.rate:9.0f}/s  p50 {self.percentile(0.5):7.2f} ms  p99 {self.percentile(0.99):7.2f} ms"
            f"  ({self.ops} ops, {self.errors} errors)"
        )


Operation = Callable[[Connection], Awaitable[object]]


async def run_load(
    port: int,
    op: Operation,
    *,
    connections: int = 50,
    duration: float = 5.0,
    warmup: float = 1.0,
    max_ops: int = 10_000_000,
) -> Stats:
    """Run `op` back to back on `connections` connections: `warmup` seconds unmeasured, then `duration` measured.

    Stops at the deadline or after `max_ops` measured operations, whichever comes first.
    """
    conns = [await Connection.open(port) for _ in range(connections)]
    stats = Stats()
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    deadline = start + duration

    async def worker(conn: Connection) -> None:
        while stats.ops < max_ops:
            t0 = time.perf_counter()
            began = loop.time()
            if began >= deadline:
                return
            try:
                await op(conn)
            except RpcError as exc:
                stats.errors += 1
                stats.first_error = stats.first_error or str(exc)
                continue
            if began >= start:
                stats.ops += 1
                stats.latencies.append(time.perf_counter() - t0)

    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    stats.seconds = loop.time() - start  # the last operations end a little after the deadline: they count
    return stats


def cycle(requests: list[bytes]) -> Operation:
    """An operation sending the given requests in turn (shared by all connections)."""
    index = 0

    async def op(conn: Connection) -> object:
        nonlocal index
        data = requests[index % len(requests)]
        index += 1
        return await conn.call(data)

    return op


def expecting(data: bytes, result_type: str) -> Operation:
    """An operation sending one request and checking the answer's `resultType` ("task", "complete")."""

    async def op(conn: Connection) -> object:
        result = await conn.call(data)
        if result.get("resultType") != result_type:
            raise RpcError(f"expected resultType {result_type!r}, got {result}")
        return result

    return op


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--tool", help="tools/call this tool (no arguments)")
    target.add_argument("--task-id", help="tasks/get this task")
    parser.add_argument("-c", "--connections", type=int, default=50)
    parser.add_argument("-d", "--duration", type=float, default=5.0)
    parser.add_argument("-w", "--warmup", type=float, default=1.0)
    args = parser.parse_args()
    data = call_tool(args.port, args.tool) if args.tool else get_task(args.port, args.task_id)
    stats = asyncio.run(
        run_load(args.port, cycle([data]), connections=args.connections, duration=args.duration, warmup=args.warmup)
    )
    print(stats.line())
    if stats.first_error:
        print("first error:", stats.first_error)


if __name__ == "__main__":
    main()
