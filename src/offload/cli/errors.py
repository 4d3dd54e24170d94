"""The one place an exception becomes an exit code (exits.py) and one line on stderr.

Every message says what to do next: the command that picks a task up again, the flag to check.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from offload.cli.context import Context
from offload.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PENDING, EXIT_UNREACHABLE, EXIT_USAGE, CliError

__all__ = ["explain", "report", "run"]

#: What a shell reports for a process ended by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141


def report(message: str) -> None:
    """The error line: `offload: <message>`, whitespace folded onto one line."""
    sys.stderr.write(f"offload: {' '.join(message.split())}\n")
    sys.stderr.flush()


def run(command: Callable[[Any, Context], Awaitable[int]], args: Any) -> int:
    """Run one async client command; turn every way it can end into an exit code and at most one line."""
    import anyio

    from offload.cli import interrupt

    ctx = Context(url=getattr(args, "url", "") or "", task_id=getattr(args, "task_id", None))
    ctx.retry_for_s = getattr(args, "retry_for", None)
    interrupt.watch(ctx)
    try:
        if ctx.url and not ctx.url.startswith(("http://", "https://")):
            raise CliError(f"URL must start with http:// or https://, got {ctx.url!r}", EXIT_USAGE)
        return anyio.run(command, args, ctx)
    except KeyboardInterrupt:  # only if the SIGINT handler was not ours (a test calling main() in a thread)
        report(" ".join(filter(None, ["interrupted;", ctx.resume_hint()])))
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `offload ... | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not fail again
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if os.environ.get("OFFLOAD_DEBUG"):
            raise
        try:
            code, message = explain(exc, ctx)
        except Exception:  # the report itself must never end in a traceback
            code, message = EXIT_FAILED, f"{type(exc).__name__}: {exc}"
        report(message)
        return code
    finally:
        interrupt.watch(None)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def explain(exc: BaseException, ctx: Context) -> tuple[int, str]:
    """The exit code and the one line for `exc` (an exception group: its most telling member)."""
    import asyncio

    import httpx2
    from mcp.shared.exceptions import MCPError

    from offload.client import (
        BadResponse,
        InputUnhandled,
        RpcError,
        TaskError,
        TaskTimeout,
        Unavailable,
        Unreachable,
    )

    leaves = [e for e in _leaves(exc) if not isinstance(e, asyncio.CancelledError)] or [exc]
    order = (
        CliError,
        InputUnhandled,
        TaskTimeout,
        Unreachable,
        BadResponse,
        TaskError,
        httpx2.TransportError,
        Unavailable,
        RpcError,
        MCPError,
    )
    leaves.sort(key=lambda e: next((i for i, kind in enumerate(order) if isinstance(e, kind)), len(order)))
    err = leaves[0]
    still = ctx.resume_hint()
    tail = f"; {still}" if still else ""
    if isinstance(err, CliError):
        return err.code, str(err)
    if isinstance(err, InputUnhandled):
        from offload.cli.values import input_hint

        return EXIT_PENDING, input_hint(ctx, err)
    if isinstance(err, TaskTimeout):
        return EXIT_PENDING, f"{err}{tail}"
    if isinstance(err, Unreachable):
        gave_up = f"gave up after --retry-for {ctx.retry_for_s:g} s" if ctx.retry_for_s is not None else "gave up"
        detail = str(err.last) or type(err.last).__name__
        return EXIT_UNREACHABLE, (
            f"cannot reach {ctx.url} since {_clock(err.since)} ({gave_up}; last error: {detail}){tail}"
        )
    if isinstance(err, BadResponse):
        return EXIT_UNREACHABLE, (
            f"{err}; check the URL: it must be the server's MCP endpoint (usually ending in /mcp){tail}"
        )
    if isinstance(err, TaskError):
        fix = "; `offload tasks --all` lists the tasks this client knows" if "not found" in str(err).lower() else ""
        return EXIT_FAILED, f"{err}{fix}"
    if isinstance(err, httpx2.TransportError):
        detail = str(err) or type(err).__name__
        return EXIT_UNREACHABLE, f"cannot reach {ctx.url}: {detail}; check that the server is running{tail}"
    if isinstance(err, Unavailable):
        return EXIT_UNREACHABLE, f"{ctx.url} is unavailable ({err}); try again later{tail}"
    if isinstance(err, RpcError):
        what = f"task {ctx.task_id}: " if ctx.task_id else ""
        fix = "; `offload tasks --all` lists the tasks this client knows" if err.code == -32602 else ""
        return EXIT_FAILED, f"{what}{err}{fix}"
    if isinstance(err, MCPError):
        what = f"{ctx.tool}: " if ctx.tool else ""
        if not ctx.interactive and "not supported" in err.error.message.lower():
            return EXIT_FAILED, (
                f"{what}the tool asked for input before starting ({err.error.message}) and stdin is not a "
                "terminal; run the command in a terminal to answer it"
            )
        hint = ""
        if err.error.code == -32601:
            hint = f" (is {ctx.url} the server's MCP endpoint?)"
        elif err.error.code == -32602 and ctx.tool:
            hint = f"; `offload tools {shlex.quote(ctx.url)}` shows the tool's arguments"
        return EXIT_FAILED, f"{what}{err.error.message} (JSON-RPC error {err.error.code}){hint}"
    text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return EXIT_FAILED, f"{text} (OFFLOAD_DEBUG=1 shows where){tail}"


def _clock(epoch: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(epoch))
