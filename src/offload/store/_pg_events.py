"""The PostgreSQL store's event listener: one connection that LISTENs, watched and replaced when lost.

Events reach every instance on the database through `NOTIFY offload_events`. The listening
connection is outside the pool (LISTEN lives on one session); it is pinged when silent, and a
closed or silent one is replaced with backoff. Events sent while it was away are missed: they are
hints, the store holds the state. One log line when events stop, one when they resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from offload._backoff import Backoff

if TYPE_CHECKING:
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record]

__all__ = ["CHANNEL", "EventListener"]

logger = logging.getLogger("offload.store.postgres")

CHANNEL = "offload_events"


class EventListener:
    """LISTEN on `CHANNEL` for a store; `on_payload` gets each notification's payload."""

    def __init__(self, dsn: str, url: str, on_payload: Callable[[object], None], check_s: float) -> None:
        self._dsn = dsn
        self._url = url  # for messages (no password)
        self._on_payload = on_payload
        self.check_s = check_s
        self._conn: Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen now (so nothing published after this returns is missed), then keep listening."""
        self._lost = asyncio.Event()  # of this event loop
        await self._connect()
        self._task = asyncio.create_task(self._keep(), name="offload-postgres-listener")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self._on_payload(payload)

    def _on_terminated(self, conn: object) -> None:
        if conn is self._conn:  # not one this listener closed, or replaced, already
            self._lost.set()

    async def _connect(self) -> Any:
        conn: Connection = await asyncpg.connect(self._dsn)
        try:
            self._lost.clear()
            conn.add_termination_listener(self._on_terminated)
            await conn.add_listener(CHANNEL, self._on_notify)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        return conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await asyncio.wait_for(conn.close(), 2)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            conn.terminate()

    async def _keep(self) -> None:
        """Watch the connection (closed, or silent to a ping) and open a new one when lost."""
        backoff = Backoff(initial=0.1, cap=5.0)
        lost = False
        while True:
            try:
                conn = self._conn
                if conn is None or conn.is_closed():
                    await self._drop()
                    conn = await self._connect()
                    if lost:
                        lost = False
                        logger.warning("task event listener reconnected to %s", self._url)
                    backoff.reset()
                try:
                    await asyncio.wait_for(self._lost.wait(), self.check_s)
                except TimeoutError:
                    await conn.execute("SELECT 1", timeout=self.check_s)
                else:
                    self._lost.clear()  # the connection is closed now: the next turn replaces it
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.next()
                if not lost:
                    lost = True
                    logger.warning("task event listener on %s lost (%s); reconnecting", self._url, exc)
                await self._drop()
                await asyncio.sleep(delay)
