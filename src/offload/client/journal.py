"""A durable journal of the tasks a client started (tasks.md: "Clients SHOULD persist task IDs").

One SQLite file. A program that restarts lists the unfinished entries and resumes them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offload.protocol import TERMINAL

__all__ = ["Journal", "JournalEntry", "args_digest"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS client_tasks (
    server TEXT NOT NULL,
    task_id TEXT NOT NULL,
    tool TEXT,
    args_digest TEXT,
    answered TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    status_message TEXT,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (server, task_id)
)
"""


def args_digest(arguments: dict[str, Any] | None) -> str:
    """A short, stable fingerprint of the arguments (the journal keeps no payloads)."""
    canonical = json.dumps(arguments or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class JournalEntry:
    """One task the client started or looked at: where it runs, what it was, where it last stood."""

    server: str
    task_id: str
    tool: str | None
    args_digest: str | None
    answered: frozenset[str]
    status: str
    status_message: str | None
    started_at: float
    updated_at: float

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "taskId": self.task_id,
            "tool": self.tool,
            "argsDigest": self.args_digest,
            "answeredKeys": sorted(self.answered),
            "status": self.status,
            "statusMessage": self.status_message,
            "startedAt": self.started_at,
            "updatedAt": self.updated_at,
        }


class Journal:
    """Task ids this client started, keyed by server URL; safe to share between processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def started(
        self, server: str, task_id: str, tool: str | None, arguments: dict[str, Any] | None, status: str
    ) -> None:
        now = time.time()
        self._db.execute(
            "INSERT INTO client_tasks (server, task_id, tool, args_digest, status, started_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT (server, task_id) DO NOTHING",
            (server, task_id, tool, args_digest(arguments) if tool else None, status, now, now),
        )

    def observed(self, server: str, task_id: str, status: str, status_message: str | None) -> None:
        self._db.execute(
            "INSERT INTO client_tasks (server, task_id, status, status_message, started_at, updated_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT (server, task_id) DO UPDATE SET "
            "status=excluded.status, status_message=excluded.status_message, updated_at=excluded.updated_at",
            (server, task_id, status, status_message, time.time(), time.time()),
        )

    def answered(self, server: str, task_id: str, keys: list[str]) -> None:
        entry = self.get(server, task_id)
        merged = sorted((entry.answered if entry else frozenset()) | set(keys))
        self._db.execute(
            "UPDATE client_tasks SET answered=?, updated_at=? WHERE server=? AND task_id=?",
            (json.dumps(merged), time.time(), server, task_id),
        )

    def forget(self, server: str, task_id: str) -> None:
        """Drop a task the server no longer knows (purged or expired): nothing is left to follow."""
        self._db.execute("DELETE FROM client_tasks WHERE server=? AND task_id=?", (server, task_id))

    def get(self, server: str, task_id: str) -> JournalEntry | None:
        row = self._db.execute(
            f"SELECT {_FIELDS} FROM client_tasks WHERE server=? AND task_id=?", (server, task_id)
        ).fetchone()
        return None if row is None else _entry(row)

    def entries(self, server: str | None = None, *, unfinished: bool = False) -> list[JournalEntry]:
        sql = f"SELECT {_FIELDS} FROM client_tasks"
        clauses: list[str] = []
        args: list[Any] = []
        if server is not None:
            clauses.append("server=?")
            args.append(server)
        if unfinished:
            clauses.append("status NOT IN ('completed','failed','cancelled')")
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY started_at"
        return [_entry(row) for row in self._db.execute(sql, args).fetchall()]


_FIELDS = "server, task_id, tool, args_digest, answered, status, status_message, started_at, updated_at"


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    server, task_id, tool, digest, answered, status, message, started, updated = row
    return JournalEntry(
        server, task_id, tool, digest, frozenset(json.loads(answered)), status, message, started, updated
    )
