"""Exit codes, and `CliError` to end a command with one of them.

0    success
1    the task failed or was cancelled, the tool returned isError, or the server answered an error
2    usage: a bad flag, argument or answer (nothing was sent)
3    the server could not be reached (or answered something that is not MCP)
4    the task is still running: --timeout ran out, or it needs input nobody can give here
130  interrupted (Ctrl-C); a started task keeps running
"""

from __future__ import annotations

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PENDING",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "CliError",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_PENDING = 4
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """Ends the command with `offload: <message>` on stderr and `code`."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code
