"""The `offload` parser: every command's flags (from the module that runs it) and one-line usage errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from offload.cli import helptext, interrupt
from offload.cli.errors import report

__all__ = ["OffloadParser", "build_parser", "dispatch", "parse"]

_CLIENT_COMMANDS = {"call", "task", "tasks", "tools"}


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions wrapped, examples (epilogs) kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.lstrip().startswith(("example", "answer format", "`offload", "exit codes")):
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


class OffloadParser(argparse.ArgumentParser):
    """A usage error is one line, `offload: <what> (see `offload CMD --help`)`, and exit 2."""

    def error(self, message: str) -> NoReturn:
        hint = ""
        if self.prog.startswith("offload task ") and ("TASK_ID" in message or "unrecognized arguments: -" in message):
            hint = f"; a task id that starts with '-' goes after '--': {self.prog} URL -- TASK_ID"
        report(f"{message}{hint} (see `{self.prog} --help`)")
        sys.exit(2)


#: The module that builds and runs each command.
_MODULES = {
    "serve": "serve",
    "worker": "serve",
    "demo": "serve",
    "gateway": "gateway",
    "bridge": "bridge",
    "admin": "ops",
    "console": "ops",
    "tools": "listing",
    "tasks": "listing",
    "call": "tasks",
    "task": "tasks",
}


def build_parser(command: str | None = None) -> OffloadParser:
    """The whole parser; with `command`, only that command's module is imported (the others get a stub
    that lists them in `offload --help`), so `offload call` never imports the gateway or the server."""
    import importlib

    parser = OffloadParser(
        prog="offload", formatter_class=_Formatter, description=helptext.MAIN.description, epilog=helptext.MAIN.epilog
    )
    parser.add_argument(
        "--json", dest="global_json", action="store_true", help="client commands: print JSON for programs"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = {_MODULES[command]} if command in _MODULES else set(_MODULES.values())
    for name, module in _MODULES.items():
        if module not in wanted:
            sub.add_parser(name, help=helptext.SUMMARY[name], add_help=False)
        elif name not in sub.choices:
            importlib.import_module(f"offload.cli.{module}").add_parsers(sub, _Formatter)
    return parser


def _command(words: Sequence[str]) -> str | None:
    """The command word: the first one that is not a top-level option."""
    return next((w for w in words if not w.startswith("-")), None)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """`parser.parse_args`, except that KEY=VALUE words may also follow options (`call URL TOOL --detach n=3`)."""
    words = list(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(words)
    if extra:
        if isinstance(getattr(args, "pairs", None), list) and not any(word.startswith("-") for word in extra):
            args.pairs.extend(extra)
        else:
            subparser = _subparser(parser, args)
            subparser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _subparser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command that was given (for its name in the usage error)."""
    current = parser
    for name in (getattr(args, "command", None), getattr(args, "task_command", None)):
        action = next((a for a in current._actions if isinstance(a, argparse._SubParsersAction)), None)
        if action is None or name not in action.choices:
            break
        current = action.choices[name]
    return current


def dispatch(argv: Sequence[str] | None, sigint: Any) -> int:
    """Parse and run one command. Server commands get SIGINT back (`sigint`) to shut down gracefully."""
    words = list(sys.argv[1:] if argv is None else argv)
    args = parse(build_parser(_command(words)), words)
    if args.command not in _CLIENT_COMMANDS:
        interrupt.restore(sigint)
    return int(args.func(args))
