"""`offload bridge URL`: serve a task-capable server's tools to MCP hosts that do not speak tasks."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

__all__ = ["add_bridge_parser", "run_bridge"]


def add_bridge_parser(sub: Any) -> None:
    br = sub.add_parser(
        "bridge",
        help="serve a task-capable MCP server to hosts without tasks: long calls answer with a handle",
        description="An MCP server (stdio by default, or HTTP) in front of a server with the tasks extension "
        "(offload serve, offload gateway, ...). A call that becomes a task answers with a one-line handle; "
        "task_status, task_result, task_answer and task_cancel follow it up. "
        "Example: offload bridge http://127.0.0.1:8000/mcp",
    )
    br.add_argument("url", help="the task-capable server's Streamable HTTP URL")
    br.add_argument("--http", action="store_true", help="serve Streamable HTTP instead of stdio")
    br.add_argument("--host", default="127.0.0.1", help="with --http (default 127.0.0.1)")
    br.add_argument("--port", type=int, default=8001, help="with --http (default 8001)")
    br.add_argument("--token", help="bearer token for the server")
    br.add_argument("--journal", metavar="FILE", help="task journal (default $XDG_STATE_HOME/offload/bridge.journal)")
    br.add_argument(
        "--wait", type=float, default=50.0, metavar="SECONDS", help="longest task_result blocks the host (default 50)"
    )
    br.add_argument("--no-attention", action="store_true", help="do not add task news to tool results")
    br.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME[:PORT]", help="with --http: extra Host/Origin"
    )
    br.set_defaults(func=run_bridge)


def run_bridge(args: argparse.Namespace) -> int:
    from offload.bridge.server import Bridge, BridgeConfig

    try:
        config = BridgeConfig(
            args.url, token=args.token, journal=args.journal, wait_s=args.wait, attention=not args.no_attention
        )
    except ValueError as exc:
        print(f"offload bridge: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    bridge = Bridge(config)
    if not args.http:
        print(f"offload bridge: {config.url} on stdio", file=sys.stderr)
        bridge.run("stdio")
        return 0
    from offload.server.app import serve_http

    print(f"offload bridge: {config.url} on http://{args.host}:{args.port}/mcp", file=sys.stderr)
    serve_http(bridge, host=args.host, port=args.port, allowed_hosts=args.allow_host)
    return 0
