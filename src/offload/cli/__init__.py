"""The `offload` command line: `serve`, `worker`, `demo`, `gateway`, and the client commands `tools`,
`call`, `task`, `tasks`.

This module stays small on purpose: `main` takes Ctrl-C over before anything heavy is imported, so an
interrupt during start-up ends quietly (exit 130) instead of in a traceback.

    serve.py, gateway.py     the server side
    tasks.py, listing.py     the client commands (common.py: what they share)
    ui.py, prompt.py         the status line and the prompts
    values.py, render.py     typed values in, readable tasks and results out
    exits.py, errors.py      exit codes, and the one mapping from an exception to a code and a line
    interrupt.py             Ctrl-C
    app.py, helptext.py      the parser and its help
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run `offload ARGS` (default: `sys.argv[1:]`); the exit code."""
    from offload.cli import interrupt

    previous = interrupt.install()
    try:
        from offload.cli.app import dispatch

        return dispatch(argv, previous)
    except KeyboardInterrupt:  # SIGINT with our handler not installed (main() called off the main thread)
        return 130
    finally:
        interrupt.restore(previous)
