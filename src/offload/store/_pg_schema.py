"""The PostgreSQL store's schema: the numbered upgrade steps `postgres.migrate` applies in order.

Apart from the store's code so each stays readable; the steps applied are rows of `offload_schema`.
"""

from __future__ import annotations

from offload.store._sql import LIVE_SQL

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE offload_tasks (
            task_id TEXT PRIMARY KEY,
            tool TEXT NOT NULL,
            status TEXT NOT NULL,
            status_message TEXT,
            created_ms BIGINT NOT NULL,
            updated_ms BIGINT NOT NULL,
            ttl_ms BIGINT,
            expires_ms BIGINT,
            poll_interval_ms BIGINT,
            principal TEXT,
            owner TEXT,
            lease_ms BIGINT,
            attempts INTEGER NOT NULL DEFAULT 1,
            result JSONB,
            error JSONB,
            input_requests JSONB,
            request JSONB,
            answers JSONB
        )""",
        "CREATE INDEX offload_tasks_expires ON offload_tasks (expires_ms) WHERE expires_ms IS NOT NULL",
        f"CREATE INDEX offload_tasks_lease ON offload_tasks (lease_ms) WHERE status IN {LIVE_SQL}",
        "CREATE INDEX offload_tasks_answers ON offload_tasks (owner) WHERE answers IS NOT NULL",
    ],
    # v2: one heartbeat per instance instead of a lease per task. Each owner of a live task becomes
    # an instance alive until its latest lease, so nothing stored is stranded; queued tasks (no
    # owner) stay claimable; live tasks are indexed by owner for `owned` and `claim_orphans`.
    2: [
        "CREATE TABLE offload_instances (owner TEXT PRIMARY KEY, alive_until_ms BIGINT NOT NULL)",
        "CREATE INDEX offload_instances_alive ON offload_instances (alive_until_ms)",
        "INSERT INTO offload_instances (owner, alive_until_ms) SELECT owner, MAX(COALESCE(lease_ms, 0)) "
        f"FROM offload_tasks WHERE status IN {LIVE_SQL} AND owner IS NOT NULL GROUP BY owner",
        "DROP INDEX offload_tasks_lease",
        "ALTER TABLE offload_tasks DROP COLUMN lease_ms",
        f"CREATE INDEX offload_tasks_live_owner ON offload_tasks (owner, created_ms) WHERE status IN {LIVE_SQL}",
    ],
    # v3: live tasks by principal, for the per-caller admission limit.
    3: [f"CREATE INDEX offload_tasks_live_principal ON offload_tasks (principal) WHERE status IN {LIVE_SQL}"],
    # v4: large result items in chunks, gone with their task; recent durations per tool (postgres_sidecar.py).
    4: [
        """CREATE TABLE offload_blobs (
            task_id TEXT NOT NULL,
            n INTEGER NOT NULL,
            chunk INTEGER NOT NULL,
            size INTEGER NOT NULL,
            newlines INTEGER NOT NULL,
            expires_ms BIGINT,
            data BYTEA NOT NULL,
            PRIMARY KEY (task_id, n, chunk)
        )""",
        "CREATE INDEX offload_blobs_expires ON offload_blobs (expires_ms) WHERE expires_ms IS NOT NULL",
        """CREATE FUNCTION offload_blobs_purge() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM offload_blobs WHERE task_id = OLD.task_id; RETURN NULL; END $$""",
        "CREATE TRIGGER offload_blobs_purge AFTER DELETE ON offload_tasks "
        "FOR EACH ROW EXECUTE FUNCTION offload_blobs_purge()",
        "CREATE TABLE offload_durations (tool TEXT PRIMARY KEY, samples BIGINT[] NOT NULL)",
    ],
    # v5: each task's journal (answered input requests, recorded steps), one row per key, gone with
    # its task (the foreign key also keeps an entry from outliving a task deleted while it is written);
    # a table of its own so `get`, which reads the task row only, never carries it.
    5: [
        """CREATE TABLE offload_journal (
            task_id TEXT NOT NULL REFERENCES offload_tasks (task_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            entry JSONB NOT NULL,
            PRIMARY KEY (task_id, key)
        )""",
    ],
}

#: The version a database is brought to: the last step.
SCHEMA_VERSION = max(MIGRATIONS)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]
