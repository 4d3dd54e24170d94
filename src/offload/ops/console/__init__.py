"""`offload console`: a web page over the task store, live, with filters, task pages and cancel.

`create_console(store, token=...)` is the ASGI app (offload.ops.console.app); `add_console_parser`
registers the command. The page, its script and its style ship in `static/` (no CDN).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from offload.ops.console.app import LOOPBACK_HOSTS, create_console

__all__ = ["LOOPBACK_HOSTS", "add_console_parser", "create_console", "run_console"]

TOKEN_ENV = "OFFLOAD_CONSOLE_TOKEN"


def run_console(args: argparse.Namespace) -> int:
    import uvicorn

    token = args.token or os.environ.get(TOKEN_ENV) or None
    loopback = args.host in LOOPBACK_HOSTS
    if not loopback and token is None:
        print(
            f"offload: the console can cancel tasks: give --token (or {TOKEN_ENV}) to serve it on {args.host}",
            file=sys.stderr,
        )
        return 2
    hosts = None if args.any_host else [*LOOPBACK_HOSTS, *([] if loopback else [args.host]), *args.allow_host]
    try:
        app = create_console(args.store, token=token, allowed_hosts=hosts, poll_s=args.poll)
    except (ValueError, ImportError) as exc:
        print(f"offload: {exc}", file=sys.stderr)
        return 2
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"offload: console on http://{shown}:{args.port}/" + (" (token required)" if token else ""), file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, lifespan="on")
    return 0


def add_console_parser(sub: Any) -> None:
    """Register `offload console` on the top-level subparsers."""
    from offload.store import DEFAULT_STORE_URL

    p = sub.add_parser("console", help="a live web console over a task store: list, filter, inspect, cancel")
    p.add_argument("--store", default=DEFAULT_STORE_URL, help=f"task store URL (default {DEFAULT_STORE_URL})")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--token", help=f"require this bearer token (or set {TOKEN_ENV}); needed off loopback")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME", help="another Host name to answer for")
    p.add_argument("--any-host", action="store_true", help="answer for any Host (behind a proxy that checks it)")
    p.add_argument("--poll", type=float, default=2.0, help="re-read the store at least this often, seconds")
    p.set_defaults(func=run_console)
