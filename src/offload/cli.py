"""The `offload` command: `demo`, `serve`, `gateway`, and the client commands `call`, `task`, `tasks` (cli_tasks.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


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


def build_parser() -> argparse.ArgumentParser:
    from offload.cli_tasks import add_client_commands

    parser = argparse.ArgumentParser(prog="offload", description="Durable MCP Tasks for the official MCP Python SDK")
    parser.add_argument(
        "--json", dest="global_json", action="store_true", help="client commands: print JSON for programs"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve an MCPServer with tasks over Streamable HTTP or stdio")
    serve.add_argument("target", help="MODULE:SERVER, MODULE, or path/to/file.py[:SERVER]")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--store", help="task store URL, e.g. sqlite:///tasks.db (overrides the server's own)")
    serve.add_argument("--stdio", action="store_true", help="serve on stdin/stdout instead of HTTP")
    serve.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME[:PORT]", help="extra Host/Origin to accept"
    )
    serve.add_argument("--json-response", action="store_true", help="answer with JSON bodies instead of SSE streams")
    serve.add_argument(
        "--workers",
        action="store_true",
        help="only create tasks; `offload worker` processes on the same store run them",
    )
    serve.set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="claim and run tasks from a shared store (no HTTP)")
    worker.add_argument("target", help="MODULE:SERVER, MODULE, or path/to/file.py[:SERVER]")
    worker.add_argument("--store", help="task store URL shared with the front instances")
    worker.set_defaults(func=_worker)

    from offload.gateway.cli import add_gateway_parser

    add_gateway_parser(sub)

    from offload.ops.admin import add_admin_parser  # ops (issue 13): the admin CLI

    add_admin_parser(sub)
    from offload.ops.console import add_console_parser  # ops (issue 13): the web console

    add_console_parser(sub)

    demo = sub.add_parser("demo", help="run an example server and a task-aware client against it")
    demo.add_argument("--dir", help="where to keep the demo's task store (default: a new temporary folder)")
    demo.add_argument("--fast", action="store_true", help="shorter operation, for tests")
    demo.set_defaults(func=_demo)

    add_client_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from offload.cli_tasks import parse_args

    args = parse_args(build_parser(), argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
