"""What the SQL backends (SQLite, PostgreSQL) share: the columns of a task, the live statuses as
SQL, row <-> record conversion, and the one migration runner.

Schema upgrades are numbered steps applied in order inside the caller's transaction; the version
reached is recorded by the backend's own means (SQLite `user_version`, PostgreSQL a table), and a
database written by a newer offload is refused before anything changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from offload.protocol import LIVE
from offload.store.record import TaskRecord

#: `status IN <LIVE_SQL>`: a task that can still change (the partial indexes use the same text).
LIVE_SQL = "(" + ",".join(f"'{s}'" for s in sorted(LIVE)) + ")"
#: The columns a task is read from, in `TaskRecord` order.
FIELDS = (
    "task_id",
    "tool",
    "status",
    "status_message",
    "created_ms",
    "updated_ms",
    "ttl_ms",
    "poll_interval_ms",
    "principal",
    "owner",
    "attempts",
    "result",
    "error",
    "input_requests",
    "request",
)
COLUMNS = ", ".join(FIELDS)
#: What `create` writes: the fields, then `expires_ms` (derived, indexed for purging).
INSERT_COLUMNS = (*FIELDS, "expires_ms")
#: Dead owners looked at per `claim_orphans`: its cost stays bounded however many instances died.
DEAD_OWNERS_PER_CLAIM = 100


def record_from_row(row: Mapping[str, Any] | Any, decode: Callable[[Any], Any]) -> TaskRecord:
    """A task from a row read with `COLUMNS`; `decode` turns a stored JSON column into its value."""
    requests = decode(row["input_requests"])
    return TaskRecord(
        task_id=row["task_id"],
        tool=row["tool"],
        status=row["status"],
        status_message=row["status_message"],
        created_ms=row["created_ms"],
        updated_ms=row["updated_ms"],
        ttl_ms=row["ttl_ms"],
        poll_interval_ms=row["poll_interval_ms"],
        principal=row["principal"],
        owner=row["owner"],
        attempts=row["attempts"],
        result=decode(row["result"]),
        error=decode(row["error"]),
        input_requests=requests if requests is not None else {},
        request=decode(row["request"]),
    )


def insert_values(
    record: TaskRecord, docs: Mapping[str, Any], text: Callable[[str | None], str | None]
) -> tuple[Any, ...]:
    """The values for `INSERT_COLUMNS`: JSON documents from `docs` (already encoded), text through `text`."""
    values: list[Any] = []
    for name in FIELDS:
        if name in docs:
            values.append(docs[name])
        elif name in ("status_message", "principal"):
            values.append(text(getattr(record, name)))
        else:
            values.append(getattr(record, name))
    values.append(record.expires_ms)
    return tuple(values)


class SchemaTarget(Protocol):
    """A database being migrated, inside a transaction its backend opened."""

    async def version(self) -> int: ...

    async def execute(self, statement: str) -> None: ...

    async def set_version(self, version: int) -> None: ...


async def migrate(target: SchemaTarget, steps: Mapping[int, Sequence[str]], latest: int) -> int:
    """Apply steps `version + 1 .. latest` in order, recording each; return `latest`.

    Raises RuntimeError, changing nothing, if the database is newer than `latest`.
    """
    version = await target.version()
    if version > latest:
        raise RuntimeError(f"store schema v{version} is newer than this offload (v{latest})")
    for step in range(version + 1, latest + 1):
        for statement in steps[step]:
            await target.execute(statement)
        await target.set_version(step)
    return latest


__all__: list[str] = []
