"""`offload serve`, `offload worker` and `offload demo`: the server side on the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parsers"]


def _serve(args: argparse.Namespace) -> int:
    from offload.server.app import load_target, serve_http

    server, tasks = load_target(args.target)
    if args.store:
        for t in tasks:
            t.use_store(args.store)
    if args.workers:
        for t in tasks:
            t.set_role("front")
    if args.stdio:
        server.run("stdio")
        return 0
    print(f"offload: serving {args.target} on http://{args.host}:{args.port}/mcp", file=sys.stderr)
    serve_http(
        server,
        host=args.host,
        port=args.port,
        allowed_hosts=args.allow_host,
        json_response=args.json_response,
        tasks=tasks[0] if len(tasks) == 1 else None,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    import logging

    import anyio

    from offload.server.app import load_target
    from offload.server.worker import run_worker

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    server, tasks = load_target(args.target)
    if args.store:
        for t in tasks:
            t.use_store(args.store)
    anyio.run(run_worker, server, tasks)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from offload.demo import run_demo

    return run_demo(workdir=args.dir, fast=args.fast)


def add_parsers(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    from offload.cli import helptext

    target_help = "MODULE:SERVER, MODULE, or path/to/file.py[:SERVER] (an MCPServer that uses Tasks)"
    serve = sub.add_parser(
        "serve",
        help=helptext.SUMMARY["serve"],
        description=helptext.SERVE.description,
        epilog=helptext.SERVE.epilog,
        formatter_class=formatter,
    )
    serve.add_argument("target", metavar="TARGET", help=target_help)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 for every interface (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s); the endpoint is /mcp")
    serve.add_argument("--store", help="task store URL, e.g. sqlite:///tasks.db (default: the server's own)")
    serve.add_argument("--stdio", action="store_true", help="serve on stdin/stdout instead of HTTP")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="accept this Host/Origin too (repeatable; only loopback names by default)",
    )
    serve.add_argument("--json-response", action="store_true", help="answer with JSON bodies instead of SSE streams")
    serve.add_argument(
        "--workers",
        action="store_true",
        help="only create tasks; `offload worker` processes on the same store run them",
    )
    serve.set_defaults(func=_serve)

    worker = sub.add_parser(
        "worker",
        help=helptext.SUMMARY["worker"],
        description=helptext.WORKER.description,
        epilog=helptext.WORKER.epilog,
        formatter_class=formatter,
    )
    worker.add_argument("target", metavar="TARGET", help=target_help)
    worker.add_argument("--store", help="task store URL shared with the front instances")
    worker.set_defaults(func=_worker)

    demo = sub.add_parser(
        "demo",
        help=helptext.SUMMARY["demo"],
        description=helptext.DEMO.description,
        epilog=helptext.DEMO.epilog,
        formatter_class=formatter,
    )
    demo.add_argument("--dir", help="where to keep the demo's task store (default: a new temporary folder)")
    demo.add_argument("--fast", action="store_true", help="shorter operation, for tests")
    demo.set_defaults(func=_demo)
