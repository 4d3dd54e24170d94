"""Fan-out to callbacks that must not break each other: event handlers, task listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def call_each(callbacks: Iterable[Callable[[T], object]], value: T, log: logging.Logger, what: str) -> None:
    """Call each callback with `value` (over a copy: a callback may unsubscribe itself); one that
    raises is logged, with `what` naming it, and the others still run."""
    for callback in list(callbacks):
        try:
            callback(value)
        except Exception:
            log.exception("%s failed", what)


__all__ = ["call_each"]
