"""Serving an `MCPServer` with tasks: the HTTP app (DNS-rebinding protection on), stdio, loading."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import uvicorn
from mcp.server.auth.middleware.bearer_auth import RequireAuthMiddleware
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from offload.server import bridge
from offload.server.extension import Tasks
from offload.server.fastpath import FastTaskGet
from offload.server.http_limits import HttpLimits, LimitedHttpProtocol, raise_open_file_limit

__all__ = ["HttpLimits", "TargetError", "http_app", "load_target", "security_settings", "serve_http", "uvicorn_config"]

_LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


class TargetError(Exception):
    """The server to serve could not be found or loaded; the message says what to fix."""


def security_settings(host: str, allowed_hosts: Iterable[str] = ()) -> TransportSecuritySettings:
    """Host/Origin checks that admit loopback names, the bound host and any extra `name[:port]`."""
    names = list(_LOCAL_NAMES)
    if host not in ("0.0.0.0", "::", "") and host not in names:
        names.append(f"[{host}]" if ":" in host else host)
    names.extend(allowed_hosts)
    hosts: list[str] = []
    origins: list[str] = []
    for name in names:
        with_port = name if (":" in name and not name.endswith("]")) else f"{name}:*"
        hosts.extend([name, with_port])
        origins.extend([f"http://{with_port}", f"https://{with_port}", f"http://{name}", f"https://{name}"])
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=sorted(set(hosts)), allowed_origins=sorted(set(origins))
    )


def http_app(
    server: MCPServer[Any],
    *,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    path: str = "/mcp",
    json_response: bool = False,
    tasks: Tasks | None = None,
) -> Starlette:
    """The Streamable HTTP app for `server`, with Host/Origin validation always on.

    With `tasks`, `tasks/get` takes the direct path of `offload.server.fastpath` (set
    OFFLOAD_FAST_GET=0 to send every request through the SDK).
    """
    security = security_settings(host, allowed_hosts)
    app = server.streamable_http_app(
        streamable_http_path=path, json_response=json_response, transport_security=security, host=host
    )
    if tasks is not None and os.environ.get("OFFLOAD_FAST_GET", "1") != "0":
        _wrap_endpoint(
            app,
            path,
            lambda inner: FastTaskGet(
                inner,
                tasks.handlers,
                bridge.server_info_stamp(server),
                security,
                strict_mcp_name=tasks.strict_mcp_name,
            ),
        )
    app.add_middleware(TrimHeaderValues)
    return app


class TrimHeaderValues:
    """Drop leading and trailing whitespace from header values, as RFC 9110 §5.5 says field parsing must.

    h11 does this itself; httptools (uvicorn's faster parser) does not, and the SDK compares routing headers
    such as `Mcp-Name` byte for byte.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for _, value in scope["headers"]:
                if value and (value[0] in _OWS or value[-1] in _OWS):
                    scope = {**scope, "headers": [(k, v.strip(b" \t")) for k, v in scope["headers"]]}
                    break
        await self.app(scope, receive, send)


_OWS = (0x20, 0x09)  # SP, HTAB


def _wrap_endpoint(app: Starlette, path: str, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
    """Wrap the MCP endpoint inside any auth guard the SDK put around it."""
    for route in app.router.routes:
        if isinstance(route, Route) and route.path == path:
            guard = route.app
            if isinstance(guard, RequireAuthMiddleware):
                guard.app = wrap(guard.app)
            else:
                route.app = wrap(guard)
            return
    raise RuntimeError(f"no MCP endpoint at {path!r} to wrap")


def serve_http(
    server: MCPServer[Any],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    allowed_hosts: Iterable[str] = (),
    json_response: bool = False,
    log_level: str = "warning",
    tasks: Tasks | None = None,
    limits: HttpLimits | None = None,
) -> None:
    app = http_app(server, host=host, allowed_hosts=allowed_hosts, json_response=json_response, tasks=tasks)
    uvicorn.Server(uvicorn_config(app, host=host, port=port, log_level=log_level, limits=limits)).run()


def uvicorn_config(
    app: ASGIApp, *, host: str, port: int, log_level: str = "warning", limits: HttpLimits | None = None
) -> uvicorn.Config:
    """uvicorn settings for an offload server: httptools with the limits of `http_limits`."""
    limits = limits or HttpLimits()
    raise_open_file_limit()
    protocol = type("OffloadHttpProtocol", (LimitedHttpProtocol,), {"limits": limits})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        http=protocol,
        timeout_keep_alive=max(1, round(limits.keep_alive_s)),
        backlog=min(limits.max_connections, 2048),
    )


def load_target(target: str) -> tuple[MCPServer[Any], list[Tasks]]:
    """Import `MODULE:ATTR`, `MODULE`, `path/file.py` or `path/file.py:ATTR`; return the server and its Tasks."""
    spec, _, attr = target.partition(":") if not _is_windows_drive(target) else (target, "", "")
    if spec.endswith(".py") or Path(spec).is_file():
        path = Path(spec).resolve()
        if not path.is_file():
            raise TargetError(f"no such file: {spec}")
        name = f"_offload_target_{path.stem}"
        mod_spec = importlib.util.spec_from_file_location(name, path)
        if mod_spec is None or mod_spec.loader is None:
            raise TargetError(f"cannot import {spec}")
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.parent))
        mod_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(spec)
        except ImportError as exc:
            raise TargetError(f"cannot import {spec!r}: {exc}") from None
    if attr:
        server = getattr(module, attr, None)
        if not isinstance(server, MCPServer):
            raise TargetError(f"{spec}:{attr} is not an MCPServer")
    else:
        found = [v for v in vars(module).values() if isinstance(v, MCPServer)]
        if len(found) != 1:
            raise TargetError(f"{spec} holds {len(found)} MCPServer objects; name one as {spec}:NAME")
        server = found[0]
    tasks = [v for v in vars(module).values() if isinstance(v, Tasks)]
    if tasks and server.settings.lifespan is None:
        raise TargetError(
            f"{target} defines offload Tasks but its MCPServer has no lifespan, so tasks would never run: "
            "pass lifespan=tasks.lifespan to MCPServer (or lifespan=tasks.wrap(your_lifespan))"
        )
    return server, tasks


def _is_windows_drive(target: str) -> bool:
    return len(target) > 2 and target[1] == ":" and target[2] in "\\/"
