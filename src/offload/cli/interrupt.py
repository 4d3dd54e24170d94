"""Ctrl-C in the client commands: stop at once, say how to pick the task up, never a traceback.

asyncio's own SIGINT handling only cancels the main task on the first Ctrl-C; a blocking read at a
prompt goes on, and a second Ctrl-C raises KeyboardInterrupt wherever the program happens to be.
Instead, while `offload` starts up and while a client command runs, SIGINT ends the process right
away: the status line is taken down, one line says where the task stands, and the exit code is 130.
Nothing is left to clean up that outlives the process: the task lives on the server, and journal
writes are committed as they happen. The server commands (`serve`, `worker`, `gateway`) keep the
default handler so their servers shut down gracefully.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offload.cli.context import Context

__all__ = ["install", "on_interrupt", "restore", "watch"]

_context: Context | None = None
_cleanups: list[Callable[[], None]] = []


def watch(context: Context | None) -> None:
    """The command whose task the Ctrl-C line names (None: no command running)."""
    global _context
    _context = context
    if context is None:
        _cleanups.clear()


def on_interrupt(cleanup: Callable[[], None]) -> Callable[[], None]:
    """Run `cleanup` (restore the terminal) before exiting on Ctrl-C; returns a remover."""
    _cleanups.append(cleanup)
    return lambda: _cleanups.remove(cleanup) if cleanup in _cleanups else None


def _handler(signum: int, frame: FrameType | None) -> None:
    for cleanup in list(_cleanups):
        with contextlib.suppress(Exception):
            cleanup()
    hint = _context.resume_hint() if _context is not None else ""
    message = "offload: interrupted" + (f"; {hint}" if hint else "") + "\n"
    for stream in (sys.stdout, sys.stderr):
        # A write under way when the signal came makes flush() fail: what it held is lost anyway.
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        os.write(2, (("\n" if _isatty(2) else "") + message).encode())
    finally:
        os._exit(130)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def install() -> Any:
    """Take SIGINT over (main thread only); returns what `restore` puts back."""
    try:
        return signal.signal(signal.SIGINT, _handler)
    except ValueError:  # not the main thread (main() called from a test thread): leave it alone
        return None


def restore(previous: Any) -> None:
    if previous is None:
        return
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, previous)
