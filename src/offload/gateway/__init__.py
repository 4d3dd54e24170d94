"""Durable tasks for any existing MCP server: `offload gateway --upstream 'COMMAND ARGS…'` or `--upstream URL`."""

from offload.gateway.config import (
    ConfigError,
    GatewayConfig,
    ToolRule,
    UpstreamConfig,
    config_from_mapping,
)
from offload.gateway.server import Gateway, GatewayTasks
from offload.gateway.upstream import Upstream

__all__ = [
    "ConfigError",
    "Gateway",
    "GatewayConfig",
    "GatewayTasks",
    "ToolRule",
    "Upstream",
    "UpstreamConfig",
    "config_from_mapping",
]
