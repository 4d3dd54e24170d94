"""One sweep's store work against the number of tasks an instance runs, on SQLite:
`.venv/bin/python benchmarks/leases.py [--sizes 1000 10000 100000] [--repeat 20]`.

For each size N: a fresh SQLite file holding N live tasks owned by one instance (inserted in bulk,
then opened through `SQLiteStore`). Timed, median of `--repeat` runs:

- sweep: what `TaskRuntime.sweep` asks the store for while all is well — `heartbeat`,
  `answered_tasks`, `claim_orphans` (nothing to claim) and `purge_expired` (nothing expired);
- owned: `owned()`, which the runtime calls only when a heartbeat says it had been thought dead;
- takeover: `claim_orphans(limit=100)` once the owner is dead (another instance takes 100 of its N);
- per-task renewal, for comparison: N single-row UPDATEs in one transaction, what the store did
  each sweep before heartbeats (one lease write per running task).

Prints a Markdown table; the figures go in docs/durability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from offload.store import SQLiteStore, now_ms

OWNER = "instance-a"


def _fill(path: Path, n: int) -> None:
    """Create the schema through the store, then insert N live tasks of OWNER in one transaction."""
    asyncio.run(_create_schema(path))
    now = now_ms()
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO tasks (task_id, tool, status, created_ms, updated_ms, ttl_ms, expires_ms, owner, attempts, "
            "input_requests, request) VALUES (?, 'slow', 'working', ?, ?, 3600000, ?, ?, 1, '{}', ?)",
            (
                (f"task-{i:07d}", now + i, now + i, now + i + 3_600_000, OWNER, '{"name":"slow","arguments":{}}')
                for i in range(n)
            ),
        )


async def _create_schema(path: Path) -> None:
    store = SQLiteStore(path)
    await store.open()
    await store.close()


async def _median_ms(op: Callable[[], Awaitable[object]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await op()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def _measure(path: Path, n: int, repeat: int) -> dict[str, float]:
    store = SQLiteStore(path)
    await store.open()
    try:
        now = now_ms()
        await store.heartbeat(OWNER, now + 3_600_000)

        async def sweep() -> None:
            at = now_ms()
            await store.heartbeat(OWNER, at + 5_000, at_ms=at)
            await store.answered_tasks(OWNER)
            await store.claim_orphans(at, OWNER, 100)
            await store.purge_expired(at)

        figures = {
            "sweep": await _median_ms(sweep, repeat),
            "owned": await _median_ms(lambda: store.owned(OWNER), repeat),
        }
        await store.release(OWNER)
        figures["takeover"] = await _median_ms(lambda: store.claim_orphans(now_ms(), "instance-b", 100), 1)
    finally:
        await store.close()
    with sqlite3.connect(path, isolation_level=None) as db:
        ids = [row[0] for row in db.execute("SELECT task_id FROM tasks WHERE owner=?", ("instance-b",))]
        ids += [row[0] for row in db.execute("SELECT task_id FROM tasks WHERE owner=? LIMIT ?", (OWNER, n))]
        start = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        for tid in ids[:n]:
            db.execute(
                "UPDATE tasks SET updated_ms=? WHERE task_id=? AND status IN ('input_required','working')", (now, tid)
            )
        db.execute("COMMIT")
        figures["per-task renewal"] = (time.perf_counter() - start) * 1000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}"
    )
    print()
    print("| live tasks | sweep (ms) | owned() (ms) | takeover of 100 (ms) | per-task renewal, old (ms) |")
    print("|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="offload-leases-") as tmp:
            path = Path(tmp) / "tasks.db"
            _fill(path, n)
            f = asyncio.run(_measure(path, n, args.repeat))
        print(
            f"| {n:,} | {f['sweep']:.2f} | {f['owned']:.2f} | {f['takeover']:.2f} | {f['per-task renewal']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
