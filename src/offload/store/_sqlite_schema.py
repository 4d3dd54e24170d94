"""The SQLite store's schema: the numbered upgrade steps `sqlite.migrate` applies in order.

Apart from the store's code so each stays readable; the version reached is the file's `user_version`.
"""

from __future__ import annotations

from offload.store._sql import LIVE_SQL

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE tasks (
            task_id TEXT PRIMARY KEY,
            tool TEXT NOT NULL,
            status TEXT NOT NULL,
            status_message TEXT,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            ttl_ms INTEGER,
            expires_ms INTEGER,
            poll_interval_ms INTEGER,
            principal TEXT,
            owner TEXT,
            lease_ms INTEGER,
            attempts INTEGER NOT NULL DEFAULT 1,
            result TEXT,
            error TEXT,
            input_requests TEXT,
            request TEXT
        ) WITHOUT ROWID""",
        "CREATE INDEX tasks_expires ON tasks(expires_ms) WHERE expires_ms IS NOT NULL",
        f"CREATE INDEX tasks_lease ON tasks(lease_ms) WHERE status IN {LIVE_SQL}",
    ],
    # v2: answers given on one instance wait here for the instance running the task.
    2: [
        "ALTER TABLE tasks ADD COLUMN answers TEXT",
        "CREATE INDEX tasks_answers ON tasks(owner) WHERE answers IS NOT NULL",
    ],
    # v3: one heartbeat per instance instead of a lease per task. Each owner of a live task becomes
    # an instance alive until its latest lease, so nothing stored is stranded; queued tasks (no
    # owner) stay claimable; live tasks are indexed by owner for `owned` and `claim_orphans`.
    3: [
        "CREATE TABLE instances (owner TEXT PRIMARY KEY, alive_until_ms INTEGER NOT NULL) WITHOUT ROWID",
        "CREATE INDEX instances_alive ON instances(alive_until_ms)",
        "INSERT INTO instances (owner, alive_until_ms) SELECT owner, MAX(COALESCE(lease_ms, 0)) FROM tasks "
        f"WHERE status IN {LIVE_SQL} AND owner IS NOT NULL GROUP BY owner",
        "DROP INDEX tasks_lease",
        "ALTER TABLE tasks DROP COLUMN lease_ms",
        f"CREATE INDEX tasks_live_owner ON tasks(owner, created_ms) WHERE status IN {LIVE_SQL}",
    ],
    # v4: live tasks by principal, for the per-caller admission limit; tasks by last change, so push
    # streams find what other processes changed without reading every task they follow.
    4: [
        f"CREATE INDEX tasks_live_principal ON tasks(principal) WHERE status IN {LIVE_SQL}",
        "CREATE INDEX tasks_updated ON tasks(updated_ms)",
    ],
    # v5: large result items in chunks, gone with their task; recent durations per tool (sqlite_sidecar.py).
    5: [
        """CREATE TABLE task_blobs (
            task_id TEXT NOT NULL,
            n INTEGER NOT NULL,
            chunk INTEGER NOT NULL,
            size INTEGER NOT NULL,
            newlines INTEGER NOT NULL,
            expires_ms INTEGER,
            data BLOB NOT NULL,
            PRIMARY KEY (task_id, n, chunk)
        )""",
        "CREATE INDEX task_blobs_expires ON task_blobs(expires_ms) WHERE expires_ms IS NOT NULL",
        "CREATE TRIGGER task_blobs_purge AFTER DELETE ON tasks BEGIN "
        "DELETE FROM task_blobs WHERE task_id = OLD.task_id; END",
        "CREATE TABLE tool_durations (tool TEXT PRIMARY KEY, samples TEXT NOT NULL)",
    ],
    # v6: each task's journal (answered input requests, recorded steps), one row per key, gone with
    # its task; a table of its own so `get`, which reads the task row only, never carries it.
    6: [
        """CREATE TABLE task_journal (
            task_id TEXT NOT NULL,
            key TEXT NOT NULL,
            entry TEXT NOT NULL,
            PRIMARY KEY (task_id, key)
        )""",
        "CREATE TRIGGER task_journal_purge AFTER DELETE ON tasks BEGIN "
        "DELETE FROM task_journal WHERE task_id = OLD.task_id; END",
    ],
}

#: The version a file is brought to: the last step.
SCHEMA_VERSION = max(MIGRATIONS)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]
