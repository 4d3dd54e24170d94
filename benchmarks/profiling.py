"""Summarise py-spy's raw (collapsed-stack) output: where the server's time goes, by package and by function."""

from __future__ import annotations

import re
from collections import Counter

_LINE = re.compile(r":\d+\)$")
_PATH = re.compile(r"\((.*?)(?::\d+)?\)$")

# Inclusive frames worth naming outside offload: the layers a request passes through, outermost first.
LAYERS = (
    "H11Protocol.data_received",
    "RequestResponseCycle.run_asgi",
    "StreamableHTTPSessionManager._handle_request",
    "handle_modern_request",
    "classify_inbound_request",
    "Connection.from_envelope",
    "serve_one",
    "ServerRunner._on_request",
    "OpenTelemetryMiddleware.__call__",
    "RequestStateBoundary.__call__",
    "MCPServer._handle_call_tool",
    "_to_jsonrpc_response",
    "_write",
    "TaskGroup.start_soon",
    "Event.__init__",
    "RequestResponseCycle.send",
)


def _function(frame: str) -> str:
    """`Cls.meth (pkg/mod.py:12)` -> `Cls.meth (pkg/mod.py)`."""
    return _LINE.sub(")", frame)


def _package(frame: str) -> str:
    m = _PATH.search(frame)
    path = m.group(1) if m else "?"
    if path.startswith("<frozen"):
        return "stdlib (frozen)"
    return path.split("/", 1)[0].removesuffix(".py")


# Who is charged for time spent in shared libraries: the nearest caller from one of these packages.
OWNERS = {"offload": "offload", "mcp": "mcp SDK", "mcp_types": "mcp SDK", "uvicorn": "uvicorn, h11 and the event loop",
          "h11": "uvicorn, h11 and the event loop", "starlette": "starlette"}  # fmt: skip


def summarise(raw: str) -> tuple[int, Counter[str], Counter[str], Counter[str], Counter[str]]:
    """Total samples; self samples by package, by owner, by function; inclusive by function."""
    total = 0
    by_package: Counter[str] = Counter()
    by_owner: Counter[str] = Counter()
    by_self: Counter[str] = Counter()
    by_incl: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        by_package[_package(frames[-1])] += n
        owner = next((OWNERS[p] for p in map(_package, reversed(frames)) if p in OWNERS), "other")
        by_owner[owner] += n
        by_self[_function(frames[-1])] += n
        for fn in {_function(f) for f in frames}:
            by_incl[fn] += n
    return total, by_package, by_owner, by_self, by_incl


def profile_summary(raw: str, title: str, top: int = 15) -> str:
    total, by_package, by_owner, by_self, by_incl = summarise(raw)
    if not total:
        return f"### {title}\n\nno samples\n"

    def pct(n: int) -> str:
        return f"{100 * n / total:.1f}%"

    lines = [f"### {title}", "", f"{total:,} samples of the thread holding the GIL.", ""]
    lines += ["Self time by package: " + ", ".join(f"{k} {pct(v)}" for k, v in by_package.most_common(10)), ""]
    lines += [
        "Self time charged to the nearest caller among offload, the mcp SDK, the HTTP server and starlette "
        "(time in asyncio, anyio, pydantic, json goes to whoever called them): "
        + ", ".join(f"{k} {pct(v)}" for k, v in by_owner.most_common()),
        "",
    ]
    lines += ["| layer or offload function (inclusive) | % |", "|---|---:|"]
    for layer in LAYERS:
        n = sum(v for k, v in by_incl.items() if k.split(" (", 1)[0] == layer)
        if n:
            lines.append(f"| `{layer}` | {pct(n)} |")
    own = [(k, v) for k, v in by_incl.most_common() if "(offload/" in k and 0.01 * total <= v < 0.9 * total]
    lines += [f"| `{k}` | {pct(v)} |" for k, v in own[:top]]
    lines += ["", "| top self frames | % |", "|---|---:|"]
    lines += [f"| `{k}` | {pct(v)} |" for k, v in by_self.most_common(top)]
    return "\n".join(lines) + "\n"
