"""`offload gateway`: put durable tasks in front of an existing MCP server (configuration: gateway/config.py)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from typing import Any

from offload.gateway.config import (
    PROTOCOLS,
    ConfigError,
    GatewayConfig,
    config_from_mapping,
    parse_tool_flag,
    split_command,
)
from offload.runtime import MODES

__all__ = ["add_parsers", "build_config", "run_gateway"]


#: The flags that set a key of the file's top level, each stored under that key's name.
_FLAG_KEYS = ("store", "mode", "budget_s", "host", "port")


def add_parsers(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    from offload.cli import helptext
    from offload.cli.serve import transport_options

    gw = helptext.add_command(sub, "gateway", formatter)
    gw.add_argument("--upstream", metavar="COMMAND|URL", help="a stdio server command line, or a Streamable HTTP URL")
    gw.add_argument("--config", metavar="FILE", help="gateway.toml: upstreams, budgets, per-tool policy, store")
    gw.add_argument(
        "--protocol", choices=PROTOCOLS, help="how to talk to --upstream (default auto: discover, else handshake)"
    )
    gw.add_argument("--host", help="default 127.0.0.1")
    gw.add_argument("--port", type=int, help="default 8000")
    gw.add_argument("--store", help="task store URL (default sqlite:///offload-gateway.db)")
    gw.add_argument("--mode", choices=MODES, help="task mode of tools without a rule (default auto)")
    gw.add_argument(
        "--budget",
        dest="budget_s",
        type=float,
        metavar="SECONDS",
        help="how long an auto call stays inline (default 1)",
    )
    gw.add_argument(
        "--tool",
        action="append",
        default=[],
        metavar="PATTERN=MODE[:BUDGET]",
        help="task policy of the tools matching a name or glob, e.g. 'deploy-*=required' (repeatable)",
    )
    transport_options(gw)
    gw.set_defaults(func=run_gateway)


def build_config(args: argparse.Namespace) -> GatewayConfig:
    """The file's configuration (if any) with the flags over it."""
    data: dict[str, Any] = {}
    if args.config:
        import tomllib
        from pathlib import Path

        try:
            data = tomllib.loads(Path(args.config).read_text())
        except FileNotFoundError:
            raise ConfigError(f"no such config file: {args.config}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{args.config}: {exc}") from None
    if args.upstream:
        target = args.upstream.strip()
        table: dict[str, Any] = {"url": target} if target.startswith(("http://", "https://")) else {}
        if not table:
            table["command"] = list(split_command(target))
        if args.protocol:
            table["protocol"] = args.protocol
        data.pop("upstreams", None)
        data["upstream"] = {**data.get("upstream", {}), **table}
        if "url" in table:
            data["upstream"].pop("command", None)
        else:
            data["upstream"].pop("url", None)
    elif args.protocol:
        raise ConfigError("--protocol applies to --upstream")
    for key in _FLAG_KEYS:
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    config = config_from_mapping(data)
    if args.tool:
        config = replace(config, tools=tuple(parse_tool_flag(t) for t in args.tool) + config.tools)
    return config


def run_gateway(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"offload gateway: {exc}", file=sys.stderr)
        return 2

    from offload.gateway.server import Gateway
    from offload.server.app import serve_http

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    gateway = Gateway(config)
    targets = ", ".join(f"{u.name}={u.target}" if len(config.upstreams) > 1 else u.target for u in config.upstreams)
    if args.stdio:
        print(f"offload gateway: {targets} on stdio", file=sys.stderr)
        gateway.run("stdio")
        return 0
    print(f"offload gateway: {targets} on http://{config.host}:{config.port}/mcp", file=sys.stderr)
    serve_http(
        gateway, host=config.host, port=config.port, allowed_hosts=args.allow_host, json_response=args.json_response
    )
    return 0
