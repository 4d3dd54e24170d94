"""Faults of the store itself, one set for every backend, so callers can answer clearly."""

from __future__ import annotations


class StoreError(Exception):
    """A fault of the store itself, not of the caller's request."""


class StoreUnavailable(StoreError):
    """The store cannot be reached (connection refused or reset, server down or restarting).

    A write whose connection broke mid-call may or may not have landed; the same call may succeed
    once the store is back, and the store reconnects by itself (no reopen needed).
    """


class StoreFull(StoreError):
    """The store is out of space (SQLite SQLITE_FULL, PostgreSQL 53100 disk_full, Redis OOM)."""


class StoreEncodingError(StoreError, ValueError):
    """A value the store cannot hold (a lone surrogate, an integer past 64 bits). Raised before
    anything is written; `field` names the task field (and the path inside a JSON document)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"task field {field!r} cannot be stored: {problem}")
        self.field = field


__all__ = ["StoreEncodingError", "StoreError", "StoreFull", "StoreUnavailable"]
