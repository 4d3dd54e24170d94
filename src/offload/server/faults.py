"""Store faults as the caller sees them: one clear JSON-RPC error, one log line per incident.

While the store is unreachable or full, every request that needs it gets the same answer, saying
which and that trying again later will work; the log says so once when the incident starts and
once when it ends, however many requests fail in between (not a traceback per request).
"""

from __future__ import annotations

import logging
import time
from typing import Final

from mcp.shared.exceptions import MCPError

from offload.protocol import INTERNAL_ERROR
from offload.store import StoreEncodingError, StoreError, StoreFull, StoreUnavailable

__all__ = ["RETRY_AFTER_S", "StoreIncidents", "store_error"]

logger = logging.getLogger("offload.store")

#: What clients are told to wait before trying again while the store is unreachable or full.
RETRY_AFTER_S: Final = 2


class StoreIncidents:
    """Logs the start and the end of each store outage once (shared by every request path)."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.kind = ""
        self.failures = 0

    def failed(self, exc: StoreError) -> None:
        kind = type(exc).__name__
        self.failures += 1
        if self.since is None or kind != self.kind:
            self.since, self.kind, self.failures = time.monotonic(), kind, 1
            what = "full" if isinstance(exc, StoreFull) else "unreachable"
            logger.error("task store %s: %s (requests are answered with an error until it recovers)", what, exc)

    def recovered(self) -> None:
        if self.since is not None:
            logger.warning(
                "task store usable again after %.1fs (%d requests failed meanwhile)",
                time.monotonic() - self.since,
                self.failures,
            )
            self.since = None


INCIDENTS = StoreIncidents()


def store_error(exc: StoreError) -> MCPError:
    """The JSON-RPC error for a store fault (internal error: the request itself was fine)."""
    if isinstance(exc, StoreEncodingError):
        return MCPError(code=INTERNAL_ERROR, message=f"The task store cannot hold this request: {exc}")
    INCIDENTS.failed(exc)
    data = {"retryAfterMs": RETRY_AFTER_S * 1000}
    if isinstance(exc, StoreFull):
        message = "The task store is full; no task can be created or changed until it has room. Try again later."
    else:
        assert isinstance(exc, StoreUnavailable | StoreError)
        message = f"The task store is unreachable right now ({exc}); try again in a few seconds."
    return MCPError(code=INTERNAL_ERROR, message=message, data=data)
