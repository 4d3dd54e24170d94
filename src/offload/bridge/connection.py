"""The bridge's connection to its task server, owned by a task of its own.

A host starts its stdio servers when it starts, often before the task server is up. So the bridge
does not need the server to start: this task connects (retrying with `offload._backoff.Backoff`), and
a request that arrives meanwhile waits a little for it, then fails with an error that names the
server and why it cannot be reached. The next request tries again at once. Once connected, the
stateless protocol needs no reconnect: each request is its own HTTP exchange.
"""

from __future__ import annotations

import logging
from dataclasses import KW_ONLY, dataclass, field

import anyio
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR

from offload._backoff import Backoff
from offload.agent import TaskToolAdapter
from offload.client import TaskClient

__all__ = ["Connection"]

logger = logging.getLogger(__name__)


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        return exc.error.message
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@dataclass(eq=False)
class Connection:
    """A `TaskToolAdapter` over a `TaskClient` to `url`, once the server answers."""

    url: str
    _: KW_ONLY
    token: str | None
    journal: str
    wait_s: float
    connect_wait_s: float = 10.0
    adapter: TaskToolAdapter | None = field(default=None, init=False)
    error: str | None = field(default=None, init=False)
    _stop: anyio.Event = field(default_factory=anyio.Event, init=False, repr=False)
    _kick: anyio.Event = field(default_factory=anyio.Event, init=False, repr=False)
    _state: anyio.Event = field(default_factory=anyio.Event, init=False, repr=False)

    def _changed(self) -> None:
        self._state.set()
        self._state = anyio.Event()

    async def run(self) -> None:
        """Connect, and keep trying until it works or `stop()`; reconnect if the client dies.

        The SDK client connects lazily and dies with its first failed request, so a connection counts
        only once a `tools/list` went through. The adapter's memory (tool names, what the model was
        told) carries over to the next connection.
        """
        backoff = Backoff(initial=0.5, cap=10.0)
        previous: TaskToolAdapter | None = None
        while not self._stop.is_set():
            try:
                # tasks/* requests give up after a few quick tries: a host is waiting on the answer.
                client = TaskClient(
                    self.url,
                    token=self.token,
                    journal=self.journal,
                    retry_for_s=5.0,
                    max_backoff_s=2.0,
                    answers_later=True,  # the model answers with task_answer
                )
                async with client:
                    await client.sdk.list_tools()
                    adapter = TaskToolAdapter(client, result_timeout_s=self.wait_s)
                    if previous is not None:
                        adapter.tool_of, adapter.watch = previous.tool_of, previous.watch
                    else:
                        resumed = client.journal.entries(self.url, unfinished=True) if client.journal else []
                        for entry in resumed:
                            adapter.remember(entry.task_id, entry.tool)
                        logger.info("bridge: following %d unfinished task(s) from the journal", len(resumed))
                    previous = self.adapter = adapter
                    self.error = None
                    backoff.reset()
                    self._changed()
                    await self._stop.wait()
                    return
            except Exception as exc:
                self.error = _describe(exc)
                logger.warning("bridge: cannot reach %s: %s", self.url, self.error)
            finally:
                self.adapter = None
                self._changed()
            self._kick = anyio.Event()
            with anyio.move_on_after(backoff.next()):
                await self._kick.wait()  # a request cuts the wait short

    def stop(self) -> None:
        self._stop.set()

    def failed(self, exc: BaseException) -> MCPError:
        """The error for a request whose connection broke under it; the next request reconnects."""
        self._kick.set()
        why = _describe(exc)
        return MCPError(
            code=INTERNAL_ERROR,
            message=f"offload bridge: lost the task server at {self.url} ({why}); reconnecting, try again",
        )

    async def get(self) -> TaskToolAdapter:
        """The adapter; waits up to `connect_wait_s` for a connection, then fails with the reason."""
        with anyio.move_on_after(self.connect_wait_s):
            while self.adapter is None:
                state = self._state
                self._kick.set()
                await state.wait()
                if self.adapter is None and self.error is not None:
                    break  # this attempt failed too: say so now
        if self.adapter is not None:
            return self.adapter
        why = self.error or f"no answer within {self.connect_wait_s:g} s"
        raise MCPError(
            code=INTERNAL_ERROR, message=f"offload bridge: the task server at {self.url} is unreachable: {why}"
        )
