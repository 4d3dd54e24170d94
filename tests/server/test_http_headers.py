"""Header values are read without surrounding whitespace (RFC 9110 §5.5), whichever HTTP parser runs."""

from __future__ import annotations

import json
import socket

from helpers import MODERN, ServerProcess, meta


def _raw_post(port: int, headers: list[tuple[str, str]], body: dict[str, object]) -> tuple[int, dict[str, object]]:
    payload = json.dumps(body).encode()
    lines = ["POST /mcp HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(payload)}", "Connection: close"]
    lines += [f"{name}:{value}" for name, value in headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    text = rest.decode()
    if "data:" in text:  # an SSE body: the last data line is the answer
        text = [line[5:] for line in text.splitlines() if line.startswith("data:")][-1]
    return status, json.loads(text)


def test_whitespace_around_routing_headers_is_ignored(e2e_server: ServerProcess) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "never_task", "arguments": {"x": 2}}}
    body["params"]["_meta"] = meta(False)  # type: ignore[index]
    headers = [
        ("Content-Type", " application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", f"  {MODERN}  "),
        ("Mcp-Method", " tools/call\t"),
        ("Mcp-Name", "   never_task   "),
    ]
    status, answer = _raw_post(e2e_server.port, headers, body)
    assert status == 200, answer
    assert "result" in answer, answer
