"""`Bridge`: an MCP server that gives hosts without tasks a handle, in front of a server with tasks.

Most MCP hosts today do not speak the tasks extension: a 2025-11-25 host, or a 2026-07-28 one that
does not declare it, would wait on a long call, or miss it altogether. The bridge is an ordinary
MCP server to them. It lists the task-capable server's tools, plus `task_status`, `task_result`,
`task_answer` and `task_cancel`; it calls each tool with the extension declared (offload's
`TaskClient`), and when the server makes a task, the host gets the one-line handle as an ordinary
tool result. The model follows up with the task tools, through the same `TaskToolAdapter` an
agent framework would use; between calls, the attention line (what ended, what asks a question)
rides on the next tool result.

Tasks the bridge starts are written to the client journal (`offload.client.Journal`), keyed by the
server URL, so a bridge restarted with its host keeps following them: their tool names, the keys
already answered, and which are still unfinished.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, INTERNAL_ERROR

from offload.agent import TASK_TOOLS
from offload.bridge.connection import Connection

__all__ = ["Bridge", "BridgeConfig", "default_journal"]

logger = logging.getLogger(__name__)
_RESERVED_META = "io.modelcontextprotocol/"


def default_journal() -> Path:
    """`$XDG_STATE_HOME/offload/bridge.journal` (else `~/.local/state/...`): hosts start stdio servers
    in arbitrary working directories, so the journal lives in the user's state directory."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "offload" / "bridge.journal"


@dataclass(frozen=True)
class BridgeConfig:
    """What the bridge fronts and how it behaves.

    `wait_s` bounds how long a `task_result` call blocks the host (hosts time tool calls out; past
    it the model is told to ask again). `attention` adds the attention line to tool results.
    """

    url: str
    token: str | None = None
    journal: str | Path | None = None
    wait_s: float = 50.0
    attention: bool = True
    name: str = "offload-bridge"

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"the bridge fronts a Streamable HTTP server: give its URL, not {self.url!r}")
        if self.wait_s <= 0:
            raise ValueError("wait_s must be > 0")


class Bridge(MCPServer[Any]):
    """Serve the tools of the task-capable server at `config.url` to hosts that do not speak tasks.

    bridge = Bridge(BridgeConfig("http://127.0.0.1:8000/mcp"))
    bridge.run("stdio")                       # or offload.server.app.serve_http(bridge, port=8001)
    """

    def __init__(self, config: BridgeConfig, **server_options: Any) -> None:
        self.config = config
        journal = config.journal if config.journal is not None else default_journal()
        self.connection = Connection(config.url, token=config.token, journal=str(journal), wait_s=config.wait_s)
        super().__init__(config.name, lifespan=self._lifespan, **server_options)

    @asynccontextmanager
    async def _lifespan(self, server: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.connection.run)
            try:
                yield {}
            finally:
                self.connection.stop()
                tg.cancel_scope.cancel()

    async def list_tools(self) -> list[types.Tool]:
        """The server's tools, then the task tools.

        `outputSchema` is dropped: a call may now answer with a handle line, which no output schema
        describes, and clients check structured results against it (a result's structured content is
        passed on as is: without a schema it is plain data). `execution` (2025-11-25 task
        support hints) is dropped too: the host is to see plain tools.
        """
        try:
            tools = await (await self.connection.get()).server_tools()
        except ValueError as exc:
            raise MCPError(code=INTERNAL_ERROR, message=str(exc)) from None
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise
            raise self.connection.failed(exc) from None
        except Exception as exc:
            raise self.connection.failed(exc) from None
        plain = [t.model_copy(update={"output_schema": None, "execution": None}) for t in tools]
        extra = [
            types.Tool(name=t["name"], description=t["description"], input_schema=t["parameters"]) for t in TASK_TOOLS
        ]
        return plain + extra

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> types.CallToolResult:
        adapter = await self.connection.get()
        try:
            result = await adapter.run(name, arguments)
        except MCPError as exc:  # not the tool's errors (the adapter words those): the connection's
            raise self.connection.failed(exc) from None
        except Exception as exc:
            raise self.connection.failed(exc) from None
        if result.meta:  # the server's own protocol stamps (serverInfo) are not the bridge's to pass on
            kept = {k: v for k, v in result.meta.items() if not k.startswith(_RESERVED_META)}
            result = result.model_copy(update={"meta": kept or None})
        if self.config.attention:
            line = await adapter.attention()
            if line:
                result = result.model_copy(update={"content": [*result.content, types.TextContent(text=line)]})
        return result
