"""What several client commands share: the journal's place, connection flags, tools/list."""

from __future__ import annotations

import argparse
import os
import sqlite3
from pathlib import Path
from typing import Any

from offload.cli.exits import CliError
from offload.client import Journal, WireClient

__all__ = ["connection_options", "default_journal", "journal_path", "list_tools", "open_journal", "wants_json"]


def default_journal() -> Path:
    """`$OFFLOAD_JOURNAL`, else `$XDG_STATE_HOME/offload/journal.db` (`~/.local/state/offload/journal.db`)."""
    env = os.environ.get("OFFLOAD_JOURNAL")
    if env:
        return Path(env).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "offload" / "journal.db"


def journal_path(args: argparse.Namespace) -> Path:
    return Path(args.journal).expanduser() if getattr(args, "journal", None) else default_journal()


def open_journal(path: Path) -> Journal:
    try:
        return Journal(path)
    except (OSError, ValueError, sqlite3.Error) as exc:
        raise CliError(f"cannot open the journal {path}: {exc}; pass another with --journal PATH") from exc


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "global_json", False) or getattr(args, "json_out", False))


def connection_options(parser: argparse.ArgumentParser, *, journal: bool = True) -> None:
    parser.add_argument(
        "--token",
        default=os.environ.get("OFFLOAD_TOKEN"),
        help="bearer token for the server (default: $OFFLOAD_TOKEN)",
    )
    if journal:
        parser.add_argument(
            "--journal",
            metavar="PATH",
            help="client journal (default: $OFFLOAD_JOURNAL or ~/.local/state/offload/journal.db)",
        )


async def list_tools(wire: WireClient) -> list[dict[str, Any]]:
    """Every tools/list page."""
    tools: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):  # a server that repeats its cursor must not loop us forever
        result = await wire.result("tools/list", {"cursor": cursor} if cursor else {})
        tools += [t for t in result.get("tools") or [] if isinstance(t, dict)]
        cursor = result.get("nextCursor")
        if not cursor:
            break
    return tools
