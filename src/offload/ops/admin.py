"""`offload admin --store URL list|show|cancel|purge|stats`: the task store from a shell.

Reads and writes the store directly (no server needed, every instance's tasks visible). Tables
go to stdout for people, `--json` prints JSON for programs; errors are one `offload: ...` line on
stderr. Exit codes: 0 done, 1 a named task was not found (or not purgeable), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import anyio

from offload.ops.actions import OPERATOR_CANCELLED, cancel_task, format_age, parse_duration, task_detail, task_summary
from offload.protocol import TERMINAL, TaskStatus
from offload.store import DEFAULT_STORE_URL, TaskRecord, TaskStore, now_ms, open_store
from offload.store.urls import redact

__all__ = ["add_admin_parser", "run_admin"]

EXIT_OK, EXIT_MISSING, EXIT_USAGE = 0, 1, 2
_STATUSES = [s.value for s in TaskStatus]


class AdminError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _statuses(text: str | None) -> list[str] | None:
    if not text:
        return None
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    if "live" in wanted:
        wanted = [s for s in wanted if s != "live"] + ["working", "input_required"]
    if "terminal" in wanted:
        wanted = [s for s in wanted if s != "terminal"] + sorted(TERMINAL)
    for s in wanted:
        if s not in _STATUSES:
            raise AdminError(f"unknown status {s!r}: expected {', '.join(_STATUSES)}, live or terminal")
    return wanted


def _cutoff(text: str | None, at_ms: int) -> int | None:
    if text is None:
        return None
    try:
        return at_ms - parse_duration(text)
    except ValueError as exc:
        raise AdminError(str(exc)) from None


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _clip(text: str | None, n: int) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# -- commands --


async def _list(store: TaskStore, args: argparse.Namespace, out: TextIO) -> int:
    at = now_ms()
    records, cursor = await store.list_tasks(
        status=_statuses(args.status),
        tool=args.tool,
        principal=args.principal,
        older_than_ms=_cutoff(args.older_than, at),
        limit=args.limit,
        cursor=args.cursor,
    )
    if args.json:
        json.dump({"tasks": [task_summary(r, at) for r in records], "nextCursor": cursor}, out, ensure_ascii=False)
        out.write("\n")
        return EXIT_OK
    if not records:
        out.write("no tasks match\n")
        return EXIT_OK
    rows = [["TASK", "STATUS", "TOOL", "PRINCIPAL", "AGE", "TRY", "MESSAGE"]]
    for r in records:
        tid = r.task_id if args.wide else r.task_id[:12]
        rows.append(
            [
                tid,
                r.status,
                r.tool,
                r.principal or "-",
                format_age(at - r.created_ms),
                str(r.attempts),
                _clip(r.status_message, 48),
            ]
        )
    _table(rows, out)
    if cursor is not None:
        out.write(f"\nmore: --cursor {cursor}\n")
    return EXIT_OK


async def _resolve(store: TaskStore, task_id: str) -> TaskRecord:
    """The task named by its full id, or by a unique prefix as `list` prints them."""
    record = await store.get(task_id)
    if record is not None:
        return record
    if len(task_id) >= 6:
        found: list[TaskRecord] = []
        cursor: str | None = None
        while True:  # a scan: fine for a person typing a short id
            page, cursor = await store.list_tasks(limit=1000, cursor=cursor)
            found += [r for r in page if r.task_id.startswith(task_id)]
            if cursor is None or len(found) > 1:
                break
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise AdminError(f"task id prefix {task_id!r} is ambiguous: give more characters", EXIT_MISSING)
    raise AdminError(f"no task {task_id!r} in the store", EXIT_MISSING)


async def _show(store: TaskStore, args: argparse.Namespace, out: TextIO) -> int:
    record = await _resolve(store, args.task_id)
    detail = task_detail(record, preview_chars=10**9 if args.full else 2000)
    if args.json:
        json.dump(detail, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return EXIT_OK
    fields = [
        ("task", record.task_id),
        ("status", record.status),
        ("message", record.status_message or "-"),
        ("tool", record.tool),
        ("principal", record.principal or "-"),
        ("created", f"{detail['createdAt']} ({format_age(detail['ageMs'])} ago)"),
        ("updated", detail["lastUpdatedAt"]),
        ("expires", detail["expiresAt"] or "never"),
        ("owner", record.owner or "-"),
        ("attempts", str(record.attempts)),
    ]
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        out.write(f"{key.ljust(width)}  {value}\n")
    if record.request is not None:
        out.write(f"\narguments:\n{json.dumps(record.request.get('arguments'), indent=2, ensure_ascii=False)}\n")
    if record.input_requests:
        out.write(f"\ninput requests ({len(record.input_requests)}):\n")
        for key, req in record.input_requests.items():
            out.write(f"  {key}: {json.dumps(req, ensure_ascii=False)}\n")
    if detail["preview"] is not None:
        label = "result" if record.result is not None else "error"
        out.write(f"\n{label}:\n{detail['preview']}\n")
    return EXIT_OK


async def _cancel(store: TaskStore, args: argparse.Namespace, out: TextIO) -> int:
    code = EXIT_OK
    report = []
    for task_id in args.task_ids:
        try:
            record = await _resolve(store, task_id)
        except AdminError as exc:
            report.append({"taskId": task_id, "outcome": "missing"})
            print(f"offload: {exc}", file=sys.stderr)
            code = EXIT_MISSING
            continue
        outcome = await cancel_task(store, record.task_id, args.reason)
        status = outcome.record.status if outcome.record is not None else None
        report.append({"taskId": record.task_id, "outcome": outcome.state, "status": status})
        if not args.json:
            verb = "cancelled" if outcome.state == "cancelled" else f"already {status}: unchanged"
            out.write(f"{record.task_id}  {verb}\n")
    if args.json:
        json.dump(report, out)
        out.write("\n")
    return code


async def _purge(store: TaskStore, args: argparse.Namespace, out: TextIO) -> int:
    if args.task_ids:
        ids = [(await _resolve(store, t)).task_id for t in args.task_ids]
    else:
        if args.older_than is None:
            raise AdminError("purge needs task ids or --older-than DURATION (e.g. 7d)")
        statuses = _statuses(args.status) or sorted(TERMINAL)
        live = [s for s in statuses if s not in TERMINAL]
        if live:
            raise AdminError(f"only ended tasks can be purged, not {live[0]!r}: cancel it first")
        ids, cursor = [], None
        cutoff = _cutoff(args.older_than, now_ms())
        while True:
            page, cursor = await store.list_tasks(
                status=statuses,
                tool=args.tool,
                principal=args.principal,
                older_than_ms=cutoff,
                limit=1000,
                cursor=cursor,
            )
            ids += [r.task_id for r in page]
            if cursor is None:
                break
    if args.dry_run:
        gone = ids
    else:
        gone = []
        for i in range(0, len(ids), 500):
            gone += await store.purge_tasks(ids[i : i + 500])
    kept = [t for t in ids if t not in set(gone)]
    if args.json:
        json.dump({"purged": gone, "kept": kept, "dryRun": args.dry_run}, out)
        out.write("\n")
    else:
        out.write(f"{'would purge' if args.dry_run else 'purged'} {len(gone)} task(s)\n")
        for t in kept:
            out.write(f"kept {t}: still running (cancel it first)\n")
    return EXIT_MISSING if kept and args.task_ids else EXIT_OK


async def _stats(store: TaskStore, args: argparse.Namespace, out: TextIO) -> int:
    stats = await store.stats()
    if args.json:
        json.dump(stats, out)
        out.write("\n")
        return EXIT_OK
    out.write(f"{stats['total']} task(s), {stats['live']} live\n\n")
    cols = [s for s in _STATUSES if s in stats["by_status"]]
    if not cols:
        return EXIT_OK
    rows = [["TOOL", *[c.upper() for c in cols]]]
    for tool, counts in stats["by_tool"].items():
        rows.append([tool, *[str(counts.get(c, 0)) for c in cols]])
    rows.append(["(all)", *[str(stats["by_status"].get(c, 0)) for c in cols]])
    _table(rows, out)
    return EXIT_OK


Command = Callable[[TaskStore, argparse.Namespace, TextIO], Awaitable[int]]


def run_admin(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Open the store, run the chosen command, close the store; print errors as `offload: ...`."""
    command: Command = args.admin_func
    args.json = bool(getattr(args, "json", False) or getattr(args, "global_json", False))
    sink = sys.stdout if out is None else out

    async def main() -> int:
        store = open_store(args.store)
        try:
            await store.open()
        except Exception as exc:
            raise AdminError(f"cannot open the store {redact(args.store)}: {exc}", EXIT_MISSING) from exc
        try:
            return await command(store, args, sink)
        finally:
            await store.close()

    try:
        return anyio.run(main)
    except (AdminError, ValueError, ImportError) as exc:
        print(f"offload: {exc}", file=sys.stderr)
        return exc.code if isinstance(exc, AdminError) else EXIT_USAGE


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", help="comma-separated statuses (or live, terminal)")
    p.add_argument("--tool", help="only this tool's tasks")
    p.add_argument("--principal", help="only this caller's tasks")
    p.add_argument("--older-than", metavar="DURATION", help="only tasks created longer ago than this, e.g. 30m, 7d")


def add_admin_parser(sub: Any) -> None:
    """Register `offload admin` on the top-level subparsers."""
    admin = sub.add_parser("admin", help="inspect and manage the tasks in a store (list, show, cancel, purge, stats)")
    admin.add_argument("--store", default=DEFAULT_STORE_URL, help=f"task store URL (default {DEFAULT_STORE_URL})")
    admin.set_defaults(func=run_admin)
    cmds = admin.add_subparsers(dest="admin_command", required=True)

    def command(name: str, fn: Command, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = cmds.add_parser(name, help=help)
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(admin_func=fn)
        return p

    p = command("list", _list, "list tasks, newest first")
    _filters(p)
    p.add_argument("--limit", type=int, default=50, help="tasks per page (default 50)")
    p.add_argument("--cursor", help="the page after the one that printed this cursor")
    p.add_argument("--wide", action="store_true", help="print full task ids")

    p = command("show", _show, "show one task: state, arguments, input requests, result or error")
    p.add_argument("task_id", help="a task id, or a unique prefix of one (put -- before an id starting with -)")
    p.add_argument("--full", action="store_true", help="print the whole result, not a preview")

    p = command("cancel", _cancel, "cancel tasks; the instance running each one stops its tool")
    p.add_argument("task_ids", nargs="+", metavar="TASK_ID")
    p.add_argument("--reason", default=OPERATOR_CANCELLED, help="the status message the task is left with")

    p = command("purge", _purge, "delete ended tasks: the ones named, or every one matching the filters")
    p.add_argument("task_ids", nargs="*", metavar="TASK_ID")
    _filters(p)
    p.add_argument("--dry-run", action="store_true", help="only say which tasks would be deleted")

    command("stats", _stats, "count tasks per status and per tool")
