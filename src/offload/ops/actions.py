"""What an operator does to tasks, shared by the admin CLI and the console: views, cancel, durations."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from offload.protocol import iso_ms
from offload.store import TaskEvent, TaskRecord, TaskStore, now_ms

__all__ = [
    "OPERATOR_CANCELLED",
    "CancelOutcome",
    "cancel_task",
    "format_age",
    "parse_duration",
    "result_preview",
    "task_detail",
    "task_summary",
]

OPERATOR_CANCELLED = "Cancelled by an operator"
#: Events an operator's actions publish carry this origin, so no instance takes them for its own.
ORIGIN = f"offload-ops:{secrets.token_hex(4)}"
PREVIEW_CHARS = 2000

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> int:
    """`90s`, `15m`, `2h`, `7d`, `1w`, or combined (`1h30m`) -> milliseconds; ValueError otherwise."""
    spec = text.strip().lower()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(spec):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS_MS[match.group(2)]
        pos = match.end()
    if not spec or pos != len(spec):
        raise ValueError(f"invalid duration {text!r}: expected a number and a unit (ms, s, m, h, d, w), e.g. 15m or 7d")
    return int(total)


def format_age(ms: int) -> str:
    """A short human age: `850ms`, `42s`, `3m12s`, `5h03m`, `12d04h`."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    s = ms // 1000
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def result_preview(record: TaskRecord, limit: int = PREVIEW_CHARS) -> str | None:
    """The text a person wants first: a result's text content (else its JSON), or the error's message."""
    if record.result is not None:
        blocks = record.result.get("content")
        texts = [b.get("text", "") for b in blocks or [] if isinstance(b, dict) and b.get("type") == "text"]
        text = "\n".join(t for t in texts if isinstance(t, str))
        if not text:
            structured = record.result.get("structuredContent")
            text = json.dumps(structured if structured is not None else record.result, ensure_ascii=False)
    elif record.error is not None:
        text = str(record.error.get("message", json.dumps(record.error, ensure_ascii=False)))
    else:
        return None
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def task_summary(record: TaskRecord, at_ms: int | None = None) -> dict[str, Any]:
    """One row of a task list (JSON-ready)."""
    at = now_ms() if at_ms is None else at_ms
    return {
        "taskId": record.task_id,
        "status": record.status,
        "tool": record.tool,
        "principal": record.principal,
        "statusMessage": record.status_message,
        "createdAt": iso_ms(record.created_ms),
        "lastUpdatedAt": iso_ms(record.updated_ms),
        "createdMs": record.created_ms,
        "ageMs": at - record.created_ms,
        "owner": record.owner,
        "attempts": record.attempts,
        "inputRequests": len(record.input_requests),
    }


def task_detail(record: TaskRecord, at_ms: int | None = None, preview_chars: int = PREVIEW_CHARS) -> dict[str, Any]:
    """Everything about one task an operator may look at (JSON-ready)."""
    at = now_ms() if at_ms is None else at_ms
    out = task_summary(record, at)
    out.update(
        {
            "ttlMs": record.ttl_ms,
            "expiresAt": None if record.expires_ms is None else iso_ms(record.expires_ms),
            "pollIntervalMs": record.poll_interval_ms,
            "owner": record.owner,
            "inputRequests": dict(record.input_requests),
            "preview": result_preview(record, preview_chars),
            "result": record.result,
            "error": record.error,
            "request": record.request,
        }
    )
    return out


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """What `cancel_task` did: `cancelled`, `terminal` (it had already ended) or `missing`."""

    state: Literal["cancelled", "terminal", "missing"]
    record: TaskRecord | None


async def cancel_task(store: TaskStore, task_id: str, message: str = OPERATOR_CANCELLED) -> CancelOutcome:
    """Cancel a task wherever it runs, as tasks/cancel does for a task running on another instance
    (TaskRuntime.cancel): settle it as `cancelled` in the store (a terminal status is final, so a
    task that finished first keeps its outcome), then publish `changed` for push streams and
    `cancel` so the owning instance stops the tool. Where events do not cross processes (SQLite),
    the owner's sweeper finds the task settled at its next pass and stops the tool then.
    """
    updated = await store.update(task_id, {"status": "cancelled", "status_message": message, "input_requests": {}})
    if updated is None:
        record = await store.get(task_id)
        return CancelOutcome("missing" if record is None else "terminal", record)
    await store.publish(TaskEvent("changed", task_id, ORIGIN))
    await store.publish(TaskEvent("cancel", task_id, ORIGIN))
    return CancelOutcome("cancelled", updated)
