"""The server benchmarks/hardening.py loads: `offload serve benchmarks/hardening_server.py --store URL`.

Bearer tokens `tok-<k>` authenticate principal `p-<k>` (any k), so the benchmark can spread
listen streams over callers (at most 16 per caller per instance). Admission limits are raised so
that tens of thousands of parked tasks are admitted.

- `park`: a task (`required`) that asks the client a question nobody answers: a parked task.
- `zero`: returns at once but always becomes a task: the cost of creating a durable task.
"""

from __future__ import annotations

import os

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from pydantic import AnyHttpUrl, BaseModel

from offload import Tasks


class Verifier:
    """Any `tok-<k>` is principal `p-<k>`; nothing else is accepted."""

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token.startswith("tok-"):
            return None
        who = "p-" + token[4:]
        return AccessToken(token=token, client_id=who, scopes=[], subject=who)


class Answer(BaseModel):
    ok: bool


PORT = os.environ.get("OFFLOAD_BENCH_PORT", "8000")
tasks = Tasks("sqlite:///offload-hardening.db", max_running=1_000_000, max_tasks_per_caller=None)
server = MCPServer(
    "offload-hardening",
    version="0.1.0",
    extensions=[tasks],
    lifespan=tasks.lifespan,
    token_verifier=Verifier(),
    auth=AuthSettings(
        issuer_url=AnyHttpUrl("http://127.0.0.1:9/"), resource_server_url=AnyHttpUrl(f"http://127.0.0.1:{PORT}/mcp")
    ),
)


@server.tool()
@tasks.tool(mode="required", input_timeout_s=24 * 3600.0)
async def park(ctx: Context) -> str:
    """Wait for an answer that never comes (until the task is cancelled or the server stops)."""
    answer = await ctx.elicit("Parked by the benchmark; never answered", Answer)
    return f"answered: {answer.action}"


@server.tool()
@tasks.tool(mode="required")
async def zero() -> str:
    """No work, but always a task."""
    return "ok"
