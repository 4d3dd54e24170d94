"""`offload tasks` (the journal, refreshed from the servers) and `offload tools URL`."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

import anyio

from offload.cli.common import connection_options, journal_path, list_tools, open_journal
from offload.cli.context import Context
from offload.cli.errors import explain, report, run
from offload.cli.exits import EXIT_OK, CliError
from offload.cli.render import duration, print_json
from offload.cli.values import summarize_schema
from offload.client import JournalEntry, WireClient
from offload.protocol import TERMINAL

__all__ = ["add_parsers"]

#: How long `offload tasks` waits for each server's answer before showing the journal's status.
REFRESH_TIMEOUT_S = 3.0


# -- tools --


def task_support(tool: dict[str, Any]) -> str:
    """What the tool says about tasks: `execution.taskSupport` (2025-11-25), else a `_meta` key about tasks."""
    execution = tool.get("execution")
    if isinstance(execution, dict) and execution.get("taskSupport"):
        return str(execution["taskSupport"])
    for key, value in (tool.get("_meta") or {}).items():
        if "task" in key.lower() and isinstance(value, str | bool):
            return str(value).lower()
    return "-"


async def _tools(args: argparse.Namespace, ctx: Context) -> int:
    async with WireClient(args.url, token=args.token) as wire:
        tools = await list_tools(wire)
    ctx.finished = True
    if args.global_json or args.json_out:
        print_json(tools)
        return EXIT_OK
    if not tools:
        print(f"{args.url} lists no tools", file=sys.stderr, flush=True)
        return EXIT_OK
    for tool in tools:
        name = str(tool.get("name"))
        title = tool.get("title") or (tool.get("annotations") or {}).get("title")
        print(name + (f"  ({title})" if title and title != name else ""), flush=True)
        description = " ".join(str(tool.get("description") or "").split())
        if description:
            print(f"  {description}")
        print(f"  arguments: {summarize_schema(tool.get('inputSchema'))}")
        support = task_support(tool)
        if support != "-":
            print(f"  tasks: {support}")
    return EXIT_OK


# -- tasks --


@dataclass
class _Row:
    entry: JournalEntry
    status: str
    message: str | None
    fresh: bool = False
    problem: str = ""


async def _refresh(rows: list[_Row], token: str | None, timeout: float) -> None:
    """tasks/get for every unfinished row, all servers at once, each within `timeout` seconds."""
    by_server: dict[str, list[_Row]] = {}
    for row in rows:
        if row.status in TERMINAL:
            row.fresh = True  # a finished task does not change
        else:
            by_server.setdefault(row.entry.server, []).append(row)

    async def one(wire: WireClient, row: _Row) -> None:
        try:
            with anyio.fail_after(timeout):
                task = await wire.result("tasks/get", {"taskId": row.entry.task_id})
        except TimeoutError:
            row.problem = f"no answer within {timeout:g} s"
            return
        except Exception as exc:
            row.problem = explain(exc, Context(url=row.entry.server))[1]
            return
        row.status, row.message, row.fresh = str(task.get("status")), task.get("statusMessage"), True

    async def server(url: str, group: list[_Row]) -> None:
        async with WireClient(url, token=token, timeout=timeout) as wire, anyio.create_task_group() as tg:
            for row in group:
                tg.start_soon(one, wire, row)

    async with anyio.create_task_group() as tg:
        for url, group in by_server.items():
            tg.start_soon(server, url, group)


def _tasks(args: argparse.Namespace) -> int:
    """`offload tasks`: the journal's entries, their statuses refreshed unless --offline."""
    path = journal_path(args)
    try:
        entries: list[JournalEntry] = []
        if path.exists():
            journal = open_journal(path)
            try:
                entries = journal.entries(args.server, unfinished=not args.all)
                rows = [_Row(e, e.status, e.status_message) for e in entries]
                if rows and not args.offline:
                    anyio.run(_refresh, rows, args.token, args.refresh_timeout)
                    for row in rows:
                        if row.fresh and (row.status, row.message) != (row.entry.status, row.entry.status_message):
                            journal.observed(row.entry.server, row.entry.task_id, row.status, row.message)
            finally:
                journal.close()
        rows = [_Row(e, e.status, e.status_message) for e in entries] if args.offline or not entries else rows
        return _print_tasks(args, rows, str(path))
    except CliError as exc:
        report(str(exc))
        return exc.code


def _print_tasks(args: argparse.Namespace, rows: list[_Row], path: str) -> int:
    if args.global_json or args.json_out:
        out = []
        for row in rows:
            item = {**row.entry.as_dict(), "status": row.status, "statusMessage": row.message}
            if not args.offline:
                item["refreshed"] = row.fresh
                if row.problem:
                    item["refreshError"] = row.problem
            out.append(item)
        print_json(out)
        return EXIT_OK
    if not rows:
        what = "tasks" if args.all else "unfinished tasks"
        print(f"no {what} in {path}", file=sys.stderr, flush=True)
        return EXIT_OK
    now = time.time()
    table = [("SERVER", "TASK ID", "TOOL", "STATUS", "MESSAGE", "AGE")]
    stale = [row for row in rows if not row.fresh and not args.offline]
    for row in rows:
        message = row.message or ""
        message = message if len(message) <= 40 else message[:39] + "…"
        status = row.status + ("*" if row in stale else "")
        age = duration(now - row.entry.started_at)
        table.append((row.entry.server, row.entry.task_id, row.entry.tool or "-", status, message or "-", age))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip(), flush=True)
    for row in stale:
        print(f"* {row.entry.task_id[:10]}…: not refreshed, {row.problem}", file=sys.stderr, flush=True)
    return EXIT_OK


# -- argparse --


def add_parsers(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    from offload.cli import helptext

    tools = helptext.add_command(sub, "tools", formatter)
    tools.add_argument("url", metavar="URL", help="the server's MCP endpoint")
    tools.add_argument("--json", dest="json_out", action="store_true", help="print the tools/list entries as JSON")
    connection_options(tools, journal=False)
    tools.set_defaults(func=lambda a: run(_tools, a))

    tasks = helptext.add_command(sub, "tasks", formatter)
    tasks.add_argument("--all", action="store_true", help="finished tasks too")
    tasks.add_argument("--server", metavar="URL", help="only this server's tasks")
    tasks.add_argument("--json", dest="json_out", action="store_true", help="print the entries as JSON")
    tasks.add_argument(
        "--offline", "--no-refresh", action="store_true", help="show the journal as it is; ask no server"
    )
    tasks.add_argument(
        "--refresh-timeout",
        type=float,
        metavar="S",
        default=REFRESH_TIMEOUT_S,
        help="how long to wait for each server (default: %(default)g)",
    )
    connection_options(tasks)
    tasks.set_defaults(func=_tasks)
