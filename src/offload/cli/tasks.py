"""`offload call` and `offload task get|wait|cancel|answer`: the task-aware client in a shell.

Output goes to stdout (the result, or JSON with `--json`); the status line, prompts and errors go to
stderr. How commands end is in exits.py; errors.py turns every failure into one line.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import anyio
from mcp_types import CallToolResult

from offload.cli.common import connection_options, journal_path, list_tools, open_journal, wants_json
from offload.cli.context import Context
from offload.cli.errors import run
from offload.cli.exits import EXIT_OK, EXIT_USAGE, CliError
from offload.cli.prompt import Prompter
from offload.cli.render import describe, print_json, render_result
from offload.cli.ui import StatusLine
from offload.cli.values import check_answers, coerce_arguments, parse_object, parse_pairs
from offload.client import Journal, RpcError, TaskClient, TaskHandle, WireClient

__all__ = ["add_parsers"]

#: How long `call` and `task wait` keep retrying an unreachable server before exit 3.
RETRY_FOR_S = 120.0


# -- shared pieces --


def _known_to_journal(args: argparse.Namespace, task_id: str) -> Journal | None:
    """The journal, open, if it already knows this task (task commands never add entries)."""
    path = journal_path(args)
    if not path.exists():
        return None
    try:
        journal = Journal(path)
    except Exception:
        return None
    if journal.get(args.url, task_id) is None:
        journal.close()
        return None
    return journal


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _client(args: argparse.Namespace, ctx: Context, line: StatusLine, journal: Journal | None) -> TaskClient:
    ctx.interactive = _isatty(sys.stdin)
    prompter = Prompter(line, sys.stdin, sys.stderr) if ctx.interactive else None
    return TaskClient(
        args.url,
        token=args.token,
        journal=journal,
        elicitation_callback=prompter.elicit if prompter else None,
        # Without a terminal the user answers with `offload task answer` (the command is printed):
        # the client can still give elicitation answers, so it says so to the server.
        answers_later=prompter is None,
        retry_for_s=args.retry_for,
    )


async def _follow(handle: TaskHandle, line: StatusLine, ctx: Context, timeout: float | None) -> dict[str, Any]:
    """Wait for a terminal status with the status line beside it."""
    ctx.task_id = handle.task_id
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(line.follow, handle)
            task = await handle.wait(timeout)
            tg.cancel_scope.cancel()
        line.update(handle.task_id, task, None)
        ctx.finished = True
        return task
    finally:
        ctx.last_task, ctx.answered = handle.last, set(handle.answered)
        line.close()


def _finish(task: dict[str, Any], *, as_json: bool, whole_task: bool, label: str | None = None) -> int:
    """Print a terminal task's outcome: the result, or an error line. `whole_task`: JSON is the task."""
    task_id = task.get("taskId", "?")
    label = label or f"task {task_id}"
    status = task.get("status")
    if as_json and whole_task:
        print_json(task)
    if status == "completed":
        result = task.get("result") or {"content": []}
        if as_json and not whole_task:
            print_json(result)
        elif not as_json:
            text = render_result(result)
            if text:
                print(text, flush=True)
        if result.get("isError"):
            raise CliError(f"{label} completed with a tool error (isError); the output above says why")
        return EXIT_OK
    if status == "failed":
        error = task.get("error") or {}
        detail = f"{error.get('message', '')} (JSON-RPC error {error.get('code', '?')})" if error else ""
        detail = detail or task.get("statusMessage") or "no error recorded"
        raise CliError(f"task {task_id} failed: {detail}")
    message = task.get("statusMessage")
    raise CliError(f"task {task_id} was cancelled" + (f": {message}" if message else ""))


async def tool_schema(wire: WireClient, tool: str) -> dict[str, Any] | None:
    """The tool's inputSchema from tools/list, or None when the server does not list it.

    A server that refuses tools/list gets `{}`: the values are then read as JSON when they parse.
    """
    try:
        tools = await list_tools(wire)
    except RpcError:
        return {}
    for entry in tools:
        if entry.get("name") == tool:
            schema = entry.get("inputSchema")
            return schema if isinstance(schema, dict) else {}
    return None


# -- commands --


async def _call(args: argparse.Namespace, ctx: Context) -> int:
    arguments = parse_object(args.args, "--args") if args.args is not None else {}
    as_json = wants_json(args)
    ctx.tool = args.tool
    line = StatusLine(sys.stderr, quiet=args.quiet)
    client = _client(args, ctx, line, open_journal(journal_path(args)))
    async with client:
        if args.pairs:
            schema = await tool_schema(client.wire, args.tool)
            if schema is None:
                raise CliError(
                    f"the server has no tool {args.tool!r}; `offload tools {args.url}` lists its tools", EXIT_USAGE
                )
            arguments.update(coerce_arguments(args.pairs, schema, args.tool))
        started = await client.start_tool(args.tool, arguments)
        if isinstance(started, CallToolResult):
            ctx.finished = True
            result = started.model_dump(by_alias=True, mode="json", exclude_none=True)
            return _finish(
                {"status": "completed", "result": result}, as_json=as_json, whole_task=False, label=args.tool
            )
        ctx.task_id = started.task_id
        if args.detach:
            if as_json:
                print_json({"resultType": "task", **(started.last or {"taskId": started.task_id})})
            else:
                print(started.task_id, flush=True)
            return EXIT_OK
        task = await _follow(started, line, ctx, args.timeout)
        return _finish(task, as_json=as_json, whole_task=False)


async def _task_get(args: argparse.Namespace, ctx: Context) -> int:
    async with WireClient(args.url, token=args.token) as wire:
        task = await wire.result("tasks/get", {"taskId": args.task_id})
    ctx.finished = True
    journal = _known_to_journal(args, args.task_id)
    if journal is not None and isinstance(task.get("status"), str):
        journal.observed(args.url, args.task_id, task["status"], task.get("statusMessage"))
        journal.close()
    if wants_json(args):
        print_json(task)
    else:
        print(describe(task, args.url), flush=True)
    return EXIT_OK


async def _task_wait(args: argparse.Namespace, ctx: Context) -> int:
    line = StatusLine(sys.stderr, quiet=args.quiet)
    journal = _known_to_journal(args, args.task_id)
    async with _client(args, ctx, line, journal) as client:
        # One direct request first, so a wrong URL or task id fails at once instead of being retried.
        first = await client.wire.result("tasks/get", {"taskId": args.task_id})
        task = await _follow(TaskHandle(client, args.task_id, first), line, ctx, args.timeout)
        if journal is not None:  # the handle records changes only; the first answer may already be the end
            journal.observed(args.url, args.task_id, task["status"], task.get("statusMessage"))
    return _finish(task, as_json=wants_json(args), whole_task=True)


async def _task_cancel(args: argparse.Namespace, ctx: Context) -> int:
    async with WireClient(args.url, token=args.token) as wire:
        ack = await wire.result("tasks/cancel", {"taskId": args.task_id})
    ctx.finished = True
    if wants_json(args):
        print_json(ack)
    else:
        print(f"cancellation requested for task {args.task_id}", flush=True)
    return EXIT_OK


async def _task_answer(args: argparse.Namespace, ctx: Context) -> int:
    responses = parse_object(args.responses, "--responses") if args.responses is not None else {}
    responses.update(parse_pairs(args.pairs, strict=True, what="answers"))
    if not responses:
        raise CliError("nothing to answer: give KEY=JSON pairs or --responses '{\"KEY\": {...}}'", EXIT_USAGE)
    async with WireClient(args.url, token=args.token) as wire:
        if not args.no_check:
            check_answers(await wire.result("tasks/get", {"taskId": args.task_id}), responses, args.url)
        ack = await wire.result("tasks/update", {"taskId": args.task_id, "inputResponses": responses})
    ctx.finished = True
    journal = _known_to_journal(args, args.task_id)
    if journal is not None:
        journal.answered(args.url, args.task_id, list(responses))
        journal.close()
    if wants_json(args):
        print_json(ack)
    else:
        print(f"sent {', '.join(responses)} to task {args.task_id}", flush=True)
    return EXIT_OK


# -- argparse --


def _following_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, metavar="S", help="stop waiting after S seconds (exit 4)")
    parser.add_argument(
        "--retry-for",
        type=float,
        metavar="S",
        default=RETRY_FOR_S,
        help="when the server stops answering, keep retrying for S seconds, then exit 3 (default: %(default)g)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no status line")


def _pairs(parser: argparse.ArgumentParser, metavar: str, what: str) -> None:
    """The KEY=... words, into `args.pairs`: `app.parse` adds there the ones that follow options too."""
    parser.add_argument("pairs", nargs="*", default=[], metavar=metavar, help=what)


def _json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", dest="json_out", action="store_true", help=f"print {what} as JSON")


def add_parsers(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """`call` and `task` on the `offload` parser's subparsers."""
    from offload.cli import helptext

    call = helptext.add_command(sub, "call", formatter)
    call.add_argument("url", metavar="URL", help="the server's MCP endpoint, e.g. http://127.0.0.1:8000/mcp")
    call.add_argument("tool", metavar="TOOL", help="the tool's name (`offload tools URL` lists them)")
    _pairs(call, "KEY=VALUE", "optional, repeatable: one argument, typed by the tool's schema")
    call.add_argument("--args", metavar="JSON", help="the whole argument object as JSON (KEY=VALUE words go over it)")
    call.add_argument("--json-args", dest="args", help=argparse.SUPPRESS)  # the old spelling
    _json_flag(call, "the full CallToolResult (with --detach: the task)")
    call.add_argument("--output", choices=("text", "json"), help=argparse.SUPPRESS)  # the old spelling of --json
    call.add_argument("--detach", action="store_true", help="print the task id and exit; the task keeps running")
    _following_options(call)
    connection_options(call)
    call.set_defaults(func=lambda a: run(_call, _old_output(a)))

    task = helptext.add_command(sub, "task", formatter)
    task_sub = task.add_subparsers(dest="task_command", required=True, metavar="{get,wait,cancel,answer,read}")

    def task_parser(name: str, help: str, command: Any) -> argparse.ArgumentParser:
        p = helptext.add_command(task_sub, name, formatter, summary=help, texts=helptext.TASK_COMMANDS)
        p.add_argument("url", metavar="URL", help="the server's MCP endpoint")
        p.add_argument("task_id", metavar="TASK_ID", help="the task id (one starting with '-' goes after '--')")
        connection_options(p)
        p.set_defaults(func=lambda a: run(command, a))
        return p

    p = task_parser("get", "tasks/get: the task's status, input requests, result", _task_get)
    _json_flag(p, "the task as tasks/get returned it")
    p = task_parser("wait", "follow the task to its end; print the result", _task_wait)
    _following_options(p)
    _json_flag(p, "the final task")
    p = task_parser("cancel", "tasks/cancel: ask the server to stop the task", _task_cancel)
    _json_flag(p, "the server's answer")
    p = task_parser("answer", "tasks/update: answer the task's input requests", _task_answer)
    _pairs(p, "KEY=JSON", "an inputRequests key and its answer (see the format below)")
    p.add_argument("--responses", metavar="JSON", help="the whole inputResponses object: '{\"KEY\": {...}}'")
    p.add_argument("--no-check", action="store_true", help="send without checking the answer against the request")
    _json_flag(p, "the server's answer")
    from offload.cli.read import add_read_parser

    add_read_parser(task_sub)


def _old_output(args: argparse.Namespace) -> argparse.Namespace:
    if getattr(args, "output", None) == "json":
        args.json_out = True
    return args
