"""Task-aware clients."""

from offload.client.wire import Reply, RpcError, WireClient

__all__ = ["Reply", "RpcError", "WireClient"]
