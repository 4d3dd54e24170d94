"""`offload serve`, `offload worker` and `offload demo`: the server side on the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

__all__ = ["add_parsers", "transport_options"]


def _serve(args: argparse.Namespace) -> int:
    from offload.observe.prometheus import apply_metrics_arguments
    from offload.server.app import HttpLimits, TargetError, load_target, serve_http

    # Plain log lines, one per record, before the target's MCPServer configures logging: the SDK picks
    # rich's handler when rich is installed, which wraps lines and breaks grepping a server's log.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        server, tasks = load_target(args.target)
    except TargetError as exc:
        print(f"offload: {exc}", file=sys.stderr)
        return 2
    if args.store:
        for t in tasks:
            t.use_store(args.store)
    if args.workers:
        for t in tasks:
            t.set_role("front")
    if args.strict_mcp_name:
        for t in tasks:
            t.strict_mcp_name = True
    apply_metrics_arguments(args)
    if args.stdio:
        server.run("stdio")
        return 0
    print(f"offload: serving {args.target} on http://{args.host}:{args.port}/mcp", file=sys.stderr)
    limits = HttpLimits(
        max_head_bytes=args.max_header_bytes,
        max_headers=args.max_headers,
        head_timeout_s=args.head_timeout,
        keep_alive_s=args.keep_alive,
        max_connections=args.max_connections,
    )
    serve_http(
        server,
        limits=limits,
        host=args.host,
        port=args.port,
        allowed_hosts=args.allow_host,
        json_response=args.json_response,
        tasks=tasks[0] if len(tasks) == 1 else None,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:

    import anyio

    from offload.observe.prometheus import apply_metrics_arguments
    from offload.server.app import TargetError, load_target
    from offload.server.worker import run_worker

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    try:
        server, tasks = load_target(args.target)
        if args.store:
            for t in tasks:
                t.use_store(args.store)
        apply_metrics_arguments(args)
        anyio.run(run_worker, server, tasks)
    except TargetError as exc:
        print(f"offload: {exc}", file=sys.stderr)
        return 2
    return 0


def _demo(args: argparse.Namespace) -> int:
    from offload.demo import run_demo

    return run_demo(workdir=args.dir, fast=args.fast)


#: The HTTP limits of `offload.server.http_limits`, as flags: (flag, type, default, metavar, help).
_LIMIT_FLAGS: tuple[tuple[str, type, float, str, str], ...] = (
    ("--max-header-bytes", int, 65536, "N", "refuse (431) a request head larger than N bytes"),
    ("--max-headers", int, 100, "N", "refuse (431) a request with more than N header fields"),
    ("--head-timeout", float, 10.0, "S", "close a connection whose request head is incomplete after S seconds"),
    ("--keep-alive", float, 5.0, "S", "close an idle keep-alive connection after S seconds"),
    ("--max-connections", int, 4096, "N", "answer 503 and close connections beyond N open ones"),
)


def transport_options(parser: argparse.ArgumentParser) -> None:
    """`--stdio`, `--allow-host` and `--json-response`: how `serve_http` (or stdio) is served, for
    `offload serve` and `offload gateway` alike."""
    parser.add_argument("--stdio", action="store_true", help="serve on stdin/stdout instead of HTTP")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="accept this Host/Origin too (repeatable; only loopback names by default)",
    )
    parser.add_argument("--json-response", action="store_true", help="answer with JSON bodies instead of SSE streams")


def add_parsers(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    from offload.cli import helptext
    from offload.observe.prometheus import add_metrics_arguments

    target_help = "MODULE:SERVER, MODULE, or path/to/file.py[:SERVER] (an MCPServer that uses Tasks)"
    serve = helptext.add_command(sub, "serve", formatter)
    serve.add_argument("target", metavar="TARGET", help=target_help)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 for every interface (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s); the endpoint is /mcp")
    serve.add_argument("--store", help="task store URL, e.g. sqlite:///tasks.db (default: the server's own)")
    transport_options(serve)
    for flag, kind, default, metavar, what in _LIMIT_FLAGS:
        serve.add_argument(flag, type=kind, default=default, metavar=metavar, help=f"{what} (default %(default)s)")
    serve.add_argument(
        "--strict-mcp-name",
        action="store_true",
        help="refuse tasks/* requests without an Mcp-Name header (default: a missing header is accepted)",
    )
    serve.add_argument(
        "--workers",
        action="store_true",
        help="only create tasks; `offload worker` processes on the same store run them",
    )
    add_metrics_arguments(serve)
    serve.set_defaults(func=_serve)

    worker = helptext.add_command(sub, "worker", formatter)
    worker.add_argument("target", metavar="TARGET", help=target_help)
    worker.add_argument("--store", help="task store URL shared with the front instances")
    add_metrics_arguments(worker)
    worker.set_defaults(func=_worker)

    demo = helptext.add_command(sub, "demo", formatter)
    demo.add_argument("--dir", help="where to keep the demo's task store (default: a new temporary folder)")
    demo.add_argument("--fast", action="store_true", help="shorter operation, for tests")
    demo.set_defaults(func=_demo)
