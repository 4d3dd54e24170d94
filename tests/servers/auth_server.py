"""A server behind bearer-token auth: two callers, alice and bob, for the auth-binding tests."""

from __future__ import annotations

import os
from typing import ClassVar

import anyio
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from offload import Tasks


class Verifier:
    TOKENS: ClassVar[dict[str, str]] = {"alice-token": "alice", "bob-token": "bob"}

    async def verify_token(self, token: str) -> AccessToken | None:
        who = self.TOKENS.get(token)
        return AccessToken(token=token, client_id=who, scopes=[], subject=who) if who else None


class Name(BaseModel):
    name: str


PORT = os.environ.get("OFFLOAD_TEST_PORT", "8000")
# Small admission limits, so the tests can reach them (the defaults are 1000 each).
tasks = Tasks(
    "memory://",
    poll_interval_ms=200,
    max_running=int(os.environ.get("OFFLOAD_TEST_MAX_RUNNING", "1000")),
    max_tasks_per_caller=int(os.environ.get("OFFLOAD_TEST_PER_CALLER", "1000")),
)
server = MCPServer(
    "offload-auth",
    extensions=[tasks],
    lifespan=tasks.lifespan,
    token_verifier=Verifier(),
    auth=AuthSettings(issuer_url="http://127.0.0.1:9/", resource_server_url=f"http://127.0.0.1:{PORT}/mcp"),
)


@server.tool()
@tasks.tool(mode="required")
async def ask_name(ctx: Context) -> str:
    r = await ctx.elicit("Please enter your name.", Name)
    return f"Hello, {r.data.name}!" if r.action == "accept" else f"no name ({r.action})"


@server.tool()
@tasks.tool(mode="required")
async def quick() -> str:
    await anyio.sleep(0.01)
    return "quick"


@server.tool()
@tasks.tool(mode="required")
async def parked(ctx: Context) -> str:
    """Waits for an answer: a task that stays unfinished until cancelled."""
    r = await ctx.elicit("Hold on?", Name)
    return r.action
