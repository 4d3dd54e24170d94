"""The console's HTTP side: a Starlette app serving the page, a JSON API and a live SSE stream.

    app = create_console("redis://127.0.0.1:6379/0", token="s3cret")   # run it with uvicorn
    starlette_app.mount("/console", create_console(tasks.store))        # or inside `offload serve`

Routes (relative to where the app is mounted):

    GET  /                      the page (static/index.html; every asset is served from here, no CDN)
    GET  /api/tasks             one page of tasks: status, tool, principal, older_than, limit, cursor
    GET  /api/tasks/{id}        one task in full
    POST /api/tasks/{id}/cancel cancel it (header X-Offload-Console: 1, which no cross-site form can send)
    GET  /api/stats             counts per status and per tool
    GET  /api/stream            server-sent events: `tasks` (the filtered list and the counts), or with
                                ?task=ID `task` (that task in full), sent again whenever it changes

The stream re-reads the store when a task event arrives (Redis and PostgreSQL deliver every
instance's events) and at least every `poll_s` (SQLite's events stay in their process), and
sends only what changed. With a token, every /api request needs `Authorization: Bearer TOKEN`
(or `?token=TOKEN`, which EventSource needs); the page asks for it once and keeps it for the tab.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from offload.ops.actions import OPERATOR_CANCELLED, cancel_task, parse_duration, task_detail, task_summary
from offload.store import TaskEvent, TaskStore, now_ms, open_store
from offload.store.urls import redact

__all__ = ["LOOPBACK_HOSTS", "create_console"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_ASSETS = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_KEEPALIVE_S = 15.0


def _asset(name: str) -> bytes:
    return resources.files("offload.ops.console").joinpath("static", name).read_bytes()


class _BadRequest(Exception):
    pass


class _Hub:
    """The store, opened on first use, and the wake-ups of every open stream."""

    def __init__(self, store: TaskStore, *, owned: bool) -> None:
        self.store = store
        self.owned = owned
        self.wakers: set[asyncio.Event] = set()
        self._lock = asyncio.Lock()
        self._opened = False
        self._unsubscribe: Callable[[], None] | None = None

    async def ready(self) -> TaskStore:
        if not self._opened:
            async with self._lock:
                if not self._opened:
                    await self.store.open()  # a no-op when the server mounting the console opened it
                    self._unsubscribe = self.store.subscribe(self._on_event)
                    self._opened = True
        return self.store

    def _on_event(self, event: TaskEvent) -> None:
        for waker in list(self.wakers):
            waker.set()

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._opened and self.owned:
            await self.store.close()
        self._opened = False


class _Guard:
    """Host check (a page on another site must not reach a loopback console through DNS rebinding)
    and the bearer token for /api."""

    def __init__(self, app: ASGIApp, token: str | None, hosts: Iterable[str] | None) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.hosts = None if hosts is None else {h.lower() for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.hosts is not None and _hostname(headers.get("host", "")) not in self.hosts:
            await JSONResponse({"error": "this console does not answer for that Host"}, 421)(scope, receive, send)
            return
        path = scope["path"][len(scope.get("root_path", "")) :] if scope.get("root_path") else scope["path"]
        if self.token is not None and "/api/" in f"/{path.lstrip('/')}" and not self._authorized(scope, headers):
            response = JSONResponse(
                {"error": "a token is needed: Authorization: Bearer TOKEN"},
                401,
                headers={"WWW-Authenticate": 'Bearer realm="offload console"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope, headers: dict[str, str]) -> bool:
        assert self.token is not None
        given = ""
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        else:
            from urllib.parse import parse_qs

            given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        return hmac.compare_digest(given.encode(), self.token)


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    status = [s for s in q.get("status", "").split(",") if s]
    if "live" in status:
        status = [s for s in status if s != "live"] + ["working", "input_required"]
    try:
        limit = int(q.get("limit", "50"))
        older = q.get("older_than") or None
        cutoff = None if older is None else now_ms() - parse_duration(older)
    except ValueError as exc:
        raise _BadRequest(str(exc) if "duration" in str(exc) else "limit must be a whole number") from None
    return {
        "status": status or None,
        "tool": q.get("tool") or None,
        "principal": q.get("principal") or None,
        "older_than_ms": cutoff,
        "limit": limit,
        "cursor": q.get("cursor") or None,
    }


def create_console(
    store: TaskStore | str,
    *,
    token: str | None = None,
    allowed_hosts: Iterable[str] | None = LOOPBACK_HOSTS,
    poll_s: float = 2.0,
    title: str = "offload console",
) -> ASGIApp:
    """The console for `store` (a URL: the console opens and closes it; a TaskStore: opened on first
    use if needed, never closed, so a server can share its own). `allowed_hosts=None` skips the Host
    check (behind a proxy that does its own)."""
    hub = _Hub(open_store(store) if isinstance(store, str) else store, owned=isinstance(store, str))
    shown_url = redact(hub.store.url)

    async def page(request: Request) -> Response:
        html = _asset("index.html").decode()
        base = request.scope.get("root_path", "").rstrip("/") + "/"
        html = html.replace("{{base}}", base).replace("{{title}}", title).replace("{{store}}", shown_url)
        return Response(html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS:
            return JSONResponse({"error": f"no asset {name!r}"}, 404)
        return Response(_asset(name), media_type=_ASSETS[name], headers={"Cache-Control": "no-cache"})

    async def list_page(filters: dict[str, Any]) -> dict[str, Any]:
        store = await hub.ready()
        records, cursor = await store.list_tasks(**filters)
        at = now_ms()
        return {"tasks": [task_summary(r, at) for r in records], "nextCursor": cursor}

    async def tasks(request: Request) -> Response:
        return JSONResponse(await list_page(_filters(request)))

    async def task(request: Request) -> Response:
        store = await hub.ready()
        record = await store.get(request.path_params["task_id"])
        if record is None:
            return JSONResponse({"error": "no such task (unknown, or purged)"}, 404)
        return JSONResponse(task_detail(record))

    async def cancel(request: Request) -> Response:
        if request.headers.get("x-offload-console") != "1":
            return JSONResponse({"error": "missing header X-Offload-Console: 1"}, 403)
        store = await hub.ready()
        outcome = await cancel_task(store, request.path_params["task_id"], OPERATOR_CANCELLED)
        if outcome.state == "missing":
            return JSONResponse({"error": "no such task (unknown, or purged)"}, 404)
        assert outcome.record is not None
        return JSONResponse({"outcome": outcome.state, "task": task_detail(outcome.record)})

    async def stats(request: Request) -> Response:
        return JSONResponse(await (await hub.ready()).stats())

    async def stream(request: Request) -> Response:
        task_id = request.query_params.get("task")
        filters = None if task_id else _filters(request)
        await hub.ready()

        async def snapshot() -> tuple[str, dict[str, Any]]:
            if task_id is not None:
                record = await hub.store.get(task_id)
                return "task", {"task": None if record is None else task_detail(record)}
            body = await list_page(filters or {})
            body["stats"] = await hub.store.stats()
            return "tasks", body

        async def events() -> AsyncIterator[str]:
            waker = asyncio.Event()
            hub.wakers.add(waker)
            last = ""
            try:
                yield "retry: 2000\n\n"
                while True:
                    waker.clear()
                    try:
                        kind, body = await snapshot()
                        fingerprint = json.dumps(_without_ages(body), sort_keys=True)
                        if fingerprint != last:
                            last = fingerprint
                            body["serverNow"] = now_ms()
                            yield f"event: {kind}\ndata: {json.dumps(body, ensure_ascii=False)}\n\n"
                    except Exception as exc:  # the store is away: say so, keep the stream, try again
                        last = ""
                        yield f"event: trouble\ndata: {json.dumps({'error': str(exc)[:300]})}\n\n"
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waker.wait(), min(poll_s, _KEEPALIVE_S))
                    await asyncio.sleep(0.1)  # a burst of events: one read of the store
                    if not waker.is_set():
                        yield ": keep-alive\n\n"
            finally:
                hub.wakers.discard(waker)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await hub.close()

    async def on_bad_request(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, 400)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/static/{name}", asset),
            Route("/api/tasks", tasks),
            Route("/api/tasks/{task_id}", task),
            Route("/api/tasks/{task_id}/cancel", cancel, methods=["POST"]),
            Route("/api/stats", stats),
            Route("/api/stream", stream),
        ],
        exception_handlers={_BadRequest: on_bad_request, ValueError: on_bad_request},
        lifespan=lifespan,
    )
    return _Guard(app, token, allowed_hosts)


def _without_ages(body: dict[str, Any]) -> dict[str, Any]:
    """What decides whether a snapshot is news: ages grow every millisecond, the page computes them."""
    if "tasks" in body and isinstance(body["tasks"], list):
        return {**body, "tasks": [{k: v for k, v in t.items() if k != "ageMs"} for t in body["tasks"]]}
    if isinstance(body.get("task"), dict):
        return {**body, "task": {k: v for k, v in body["task"].items() if k != "ageMs"}}
    return body
