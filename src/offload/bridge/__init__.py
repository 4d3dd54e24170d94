"""`offload bridge`: task handles for MCP hosts that do not speak tasks (see `offload.bridge.server`)."""

from offload.bridge.cli import add_bridge_parser
from offload.bridge.server import Bridge, BridgeConfig, default_journal

__all__ = ["Bridge", "BridgeConfig", "add_bridge_parser", "default_journal"]
