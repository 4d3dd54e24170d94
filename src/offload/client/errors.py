"""Everything the client raises, in one tree under `OffloadClientError`.

    OffloadClientError
    ├── TransportProblem        the request got no usable answer
    │   ├── Unavailable         429/502/503/504: try again later (retried by TaskClient)
    │   ├── BadResponse         an HTTP answer that is not JSON-RPC (404, a proxy's error page, ...): final
    │   └── Unreachable         TaskClient retried for `retry_for_s` and gave up
    ├── RpcError                the server answered with a JSON-RPC error
    └── TaskError               about one task; `task_id` says which
        ├── TaskFailed          it ended `failed`
        ├── TaskCancelled       it ended `cancelled`
        ├── TaskTimeout         `wait(timeout=...)` ran out first
        └── InputUnhandled      it asks for input this client has no handler for

Connection errors below these (`httpx2.TransportError`) come through unchanged from `WireClient`;
`TaskClient` retries them and raises `Unreachable` when it gives up.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadResponse",
    "InputUnhandled",
    "OffloadClientError",
    "RpcError",
    "TaskCancelled",
    "TaskError",
    "TaskFailed",
    "TaskTimeout",
    "TransportProblem",
    "Unavailable",
    "Unreachable",
]


class OffloadClientError(Exception):
    """Base class of every error the offload client raises on purpose."""


class TransportProblem(OffloadClientError):
    """A request that got no JSON-RPC answer at all."""


class Unavailable(TransportProblem):
    """HTTP 429/503 (come back later) or 502/504 (a proxy could not reach the server).

    Raised by `WireClient` for one request; `TaskClient` waits it out (honouring Retry-After).
    """

    def __init__(self, http_status: int, retry_after_s: float | None) -> None:
        super().__init__(f"HTTP {http_status}" + (f", retry after {retry_after_s:g} s" if retry_after_s else ""))
        self.http_status = http_status
        self.retry_after_s = retry_after_s


class BadResponse(TransportProblem):
    """An HTTP answer with no JSON-RPC message in it (a wrong URL, a proxy's error page).

    Never retried: asking again gets the same page. The message names the status and the URL.
    """

    def __init__(self, http_status: int, url: str, detail: str = "") -> None:
        text = f"HTTP {http_status} from {url} with no JSON-RPC answer" + (f" ({detail})" if detail else "")
        super().__init__(text)
        self.http_status = http_status
        self.url = url


class Unreachable(TransportProblem):
    """`TaskClient` could not get an answer for `retry_for_s` seconds and stopped trying.

    The task itself is unaffected: it keeps running on the server. `since` is the wall-clock time
    of the first failure, `last` the last error seen.
    """

    def __init__(self, method: str, url: str, since: float, last: BaseException, task_id: str | None = None) -> None:
        detail = str(last) or type(last).__name__
        super().__init__(f"{method}: no answer from {url} since {_clock(since)} (last error: {detail})")
        self.method = method
        self.url = url
        self.since = since
        self.last = last
        self.task_id = task_id


class RpcError(OffloadClientError):
    """The server answered with a JSON-RPC error (`code`, `message`, `data`)."""

    def __init__(self, code: int, message: str, data: Any = None, http_status: int | None = None) -> None:
        super().__init__(f"{message} (JSON-RPC error {code})")
        self.code = code
        self.message = message
        self.data = data
        self.http_status = http_status


class TaskError(OffloadClientError):
    """A task outcome that is not a result, or a tasks/* request the server refused for good.

    Raised as such for an unknown, expired or foreign task id (-32602) and capability errors.
    """

    def __init__(self, message: str, task_id: str | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id


class TaskFailed(TaskError):
    """The task ended `failed`: it carries the JSON-RPC error the server recorded.

    Raised by `TaskHandle.result()` and `TaskClient.call_tool()`.
    """

    def __init__(self, task_id: str, error: dict[str, Any], status_message: str | None = None) -> None:
        self.error = error
        self.code: int = int(error.get("code", -32603))
        self.error_message: str = str(error.get("message", ""))
        self.data: Any = error.get("data")
        self.status_message = status_message
        super().__init__(f"task {task_id} failed: {self.error_message} (JSON-RPC error {self.code})", task_id)


class TaskCancelled(TaskError):
    """The task ended `cancelled`. Raised by `TaskHandle.result()` and `TaskClient.call_tool()`."""

    def __init__(self, task_id: str, status_message: str | None = None) -> None:
        self.status_message = status_message
        super().__init__(f"task {task_id} was cancelled" + (f": {status_message}" if status_message else ""), task_id)


class InputUnhandled(TaskError):
    """The task asks for input (elicitation, sampling, roots) and the client has no callback for it.

    Waiting would never end, so `wait()` raises this instead; answer with `TaskHandle.answer()`.
    """


class TaskTimeout(TaskError):
    """`wait(timeout=...)` ran out before the task reached a terminal status; the task keeps running."""


def _clock(epoch: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(epoch))
