"""Rules every backend applies the same way before it writes: which `Change` keys exist, what a
value must be to be stored, and how JSON documents are encoded.

One place, so the backends cannot drift apart: a key SQLite would have put into SQL unchecked, a
lone surrogate PostgreSQL would have refused halfway through a write, a NaN one backend kept and
another turned into null. Each check raises before anything is written.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from offload.protocol import TaskStatus
from offload.store.errors import StoreEncodingError
from offload.store.record import Change, TaskRecord

#: The keys `update` accepts: exactly those `Change` declares.
CHANGE_FIELDS: frozenset[str] = frozenset(Change.__optional_keys__)
_ALLOWED = ", ".join(sorted(CHANGE_FIELDS))
_STATUSES = frozenset(s.value for s in TaskStatus)
#: Record fields holding JSON documents, and plain text ones.
JSON_FIELDS = ("result", "error", "input_requests", "request")
TEXT_FIELDS = ("task_id", "tool", "status", "status_message", "principal", "owner")
INT_FIELDS = ("created_ms", "updated_ms", "ttl_ms", "poll_interval_ms", "attempts")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1  # SQLite INTEGER, PostgreSQL BIGINT
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_change(change: Change) -> None:
    """ValueError naming the first key `update` does not know (listing those it does), or a status
    that is not one of the five; then the values, as `check_value` does."""
    for key, value in change.items():
        if key not in CHANGE_FIELDS:
            raise ValueError(f"a task has no field {key!r} to update (allowed: {_ALLOWED})")
        if key == "status" and value not in _STATUSES:
            raise ValueError(f"status {value!r} is not a task status (expected one of {', '.join(sorted(_STATUSES))})")
        if key not in JSON_FIELDS:
            check_value(key, value)


def check_value(name: str, value: Any) -> None:
    """StoreEncodingError if a text or integer field holds what no backend can store."""
    if value is None:
        return
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise StoreEncodingError(name, "it contains a lone surrogate (not valid Unicode text)")
    elif isinstance(value, int) and not isinstance(value, bool) and not _INT_MIN <= value <= _INT_MAX:
        raise StoreEncodingError(name, f"{value} does not fit in 64 bits")


def check_record(record: TaskRecord) -> dict[str, str | None]:
    """Check every field of a new task; return its JSON documents encoded (`dump_json`)."""
    for name in TEXT_FIELDS:
        check_value(name, getattr(record, name))
    for name in INT_FIELDS:
        check_value(name, getattr(record, name))
    if record.status not in _STATUSES:
        raise ValueError(f"status {record.status!r} is not a task status")
    return {name: dump_json(name, getattr(record, name)) for name in JSON_FIELDS}


def dump_json(name: str, value: Any) -> str | None:
    """`value` as compact UTF-8 JSON, the same text in every backend; None stays None.

    NaN and ±Infinity become null (JSON has neither; the MCP SDK renders them so on the wire too);
    a lone surrogate raises StoreEncodingError naming where it is (`result.content[0].text`).
    """
    if value is None:
        return None
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or Infinity somewhere
        text = json.dumps(_finite(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if _SURROGATE.search(text):
        where = next(_surrogates(value, name), name)
        raise StoreEncodingError(where, "it contains a lone surrogate (not valid Unicode text)")
    return text


def journal_entry(asked: Any, answer: Any) -> dict[str, Any]:
    """What `answer` records for a taken key: the outstanding request (`{"method", "params"}`) and
    its answer, so a replay finds both where the tool asked."""
    return {**(asked if isinstance(asked, dict) else {}), "answer": answer}


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _surrogates(value: Any, path: str) -> Iterator[str]:
    """Paths of the strings (values or keys) holding a lone surrogate, for the error message."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and _SURROGATE.search(k):
                yield f"{path} (a key)"
            yield from _surrogates(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _surrogates(v, f"{path}[{i}]")


__all__: list[str] = []
