"""Limits on what a client can make the HTTP server hold or parse, enforced before any request runs.

uvicorn (with httptools) caps neither the size nor the number of request headers, has no timeout
for a request head that never completes, and accepts every connection. One request with a 64 MB
header then stalls the event loop for seconds, long enough for a peer instance to decide this one
died; ~20,000 idle sockets exhaust file descriptors. `LimitedHttpProtocol` is uvicorn's httptools
protocol with those limits added:

- a request head (request line and headers) over `max_head_bytes`, or with more than
  `max_headers` fields, gets 431 and the connection is closed, as soon as the limit is crossed;
- a connection that has not completed a request head within `head_timeout_s` is closed (408 if it
  sent part of one), so silent and trickling sockets do not pile up;
- beyond `max_connections` open connections, a new one gets 503 and is closed at once.

Idle keep-alive connections are closed by uvicorn's own `timeout_keep_alive`; bodies are capped by
the SDK's request-body limit.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HttpLimits", "LimitedHttpProtocol", "raise_open_file_limit"]

logger = logging.getLogger("offload.http")


@dataclass(frozen=True)
class HttpLimits:
    """The limits `offload serve` applies; see the module docstring. Documented in README "Limits"."""

    max_head_bytes: int = 64 * 1024
    max_headers: int = 100
    head_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    max_connections: int = 4096


def _reply(status: bytes, reason: str) -> bytes:
    body = reason.encode()
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


_TOO_LARGE = _reply(b"431 Request Header Fields Too Large", "Request header fields too large")
_TIMEOUT = _reply(b"408 Request Timeout", "The request head did not arrive in time")
_BUSY = _reply(b"503 Service Unavailable", "Too many connections; try again shortly")
_warned_at = 0.0


def _warn(message: str, *args: Any) -> None:
    """At most one line a second: a flood must not become a flood of log lines."""
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= 1.0:
        _warned_at = now
        logger.warning(message, *args)


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the limits of `HttpLimits` (set as the class's `limits`)."""

    limits = HttpLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._header_count = 0
        self._in_head = True
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > self.limits.max_connections:
            _warn("refusing connections: %d open (limit %d)", len(self.connections), self.limits.max_connections)
            self._refuse(_BUSY)
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._in_head:
            super().data_received(data)
            return
        room = self.limits.max_head_bytes - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            super().data_received(data)
        else:
            # Feed what fits: if the head ends in it, the rest is body and goes on normally.
            self._head_bytes += room
            super().data_received(data[:room])
            if self._in_head and not self.transport.is_closing():
                _warn("refused a request head over %d bytes from %s", self.limits.max_head_bytes, self.client)
                self._refuse(_TOO_LARGE)
                return
            if not self.transport.is_closing():
                super().data_received(data[room:])

    # -- parser callbacks --

    def on_message_begin(self) -> None:
        self._header_count = 0
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count <= self.limits.max_headers:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        if self._header_count > self.limits.max_headers:
            _warn("refused a request with over %d header fields from %s", self.limits.max_headers, self.client)
            self._refuse(_TOO_LARGE)  # the request never starts; what follows of it is dropped
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        self._in_head = True  # what arrives next is the head of the next request
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()  # the next head must arrive in time too

    # -- helpers --

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.limits.head_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or (self.cycle is not None and not self.cycle.response_complete):
            return  # a request is being answered
        if self._head_bytes == 0:
            self.transport.close()  # it never said anything: no reply owed
        else:
            _warn("closed a connection whose request head was not complete after %gs", self.limits.head_timeout_s)
            self._refuse(_TIMEOUT)

    def _refuse(self, reply: bytes) -> None:
        self._refused = True
        self._disarm_head_timer()
        if not self.transport.is_closing():
            self.transport.write(reply)
            self.transport.close()


def raise_open_file_limit() -> int:
    """Lift this process's soft limit on open files to the hard limit; return the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft
