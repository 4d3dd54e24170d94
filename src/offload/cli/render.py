"""Tasks and results as people read them, and JSON for programs."""

from __future__ import annotations

import json
import shlex
import time
from datetime import datetime
from typing import Any

from offload.cli.context import task_arg
from offload.cli.values import answer_command

__all__ = ["describe", "duration", "epoch", "print_json", "render_result"]


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False), flush=True)


def duration(seconds: float) -> str:
    """`4.2s`, `3m05s`, `2h10m`, `1d03h`."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    return f"{int(seconds // 86400)}d{int(seconds % 86400 // 3600):02d}h"


def epoch(iso: Any) -> float | None:
    """An ISO 8601 timestamp (`createdAt`) as seconds since the epoch, or None."""
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def render_result(result: dict[str, Any]) -> str:
    """A CallToolResult for people: its text content joined; other blocks as a short placeholder."""
    parts: list[str] = []
    for block in result.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} {block.get('mimeType', '')}, {len(block.get('data', '')) * 3 // 4} bytes]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.get('uri', '')}]")
        elif kind == "resource":
            resource = block.get("resource") or {}
            parts.append(str(resource.get("text") or f"[resource {resource.get('uri', '')}]"))
    if not parts and result.get("structuredContent") is not None:
        parts.append(json.dumps(result["structuredContent"], indent=2, ensure_ascii=False))
    return "\n".join(parts)


def describe(task: dict[str, Any], url: str) -> str:
    """tasks/get for people: one `name value` row per field, and the command that answers its input."""
    task_id = str(task.get("taskId"))
    rows: list[tuple[str, str]] = [("task", task_id), ("status", str(task.get("status")))]
    if task.get("statusMessage"):
        rows.append(("message", str(task["statusMessage"])))
    created = epoch(task.get("createdAt"))
    if created is not None:
        rows.append(("created", f"{task['createdAt']} ({duration(time.time() - created)} ago)"))
    if task.get("lastUpdatedAt"):
        rows.append(("updated", str(task["lastUpdatedAt"])))
    if task.get("ttlMs") is not None:
        rows.append(("ttl", duration(task["ttlMs"] / 1000)))
    for key, request in (task.get("inputRequests") or {}).items():
        params = request.get("params") or {}
        fields = ", ".join((params.get("requestedSchema") or {}).get("properties") or {})
        asks = f'{request.get("method", "?")} "{params.get("message", "")}"' + (
            f" (fields: {fields})" if fields else ""
        )
        rows.append(("input", f"{key}: {asks}"))
        rows.append(("answer", answer_command(url, task_id, key, request)))
    if task.get("status") == "completed":
        rows.append(("result", render_result(task.get("result") or {})))
    if task.get("error"):
        error = task["error"]
        rows.append(("error", f"{error.get('message', '')} (JSON-RPC error {error.get('code', '?')})"))
    if task.get("status") not in ("completed", "failed", "cancelled", None):
        rows.append(("follow", f"offload task wait {shlex.quote(url)} {task_arg(task_id)}"))
    return "\n".join(f"{name:<8} {value}" for name, value in rows)
