"""A release that waits for a human approval and survives restarts: `offload serve examples/approvals.py`.

The build and the deploy are durable steps and the tool is retry-safe, so a deploy of this server
(or a crash) while the approval waits neither rebuilds nor asks again (docs/approvals.md).
"""

from __future__ import annotations

import os
import secrets

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from offload import Tasks, step

tasks = Tasks(os.environ.get("OFFLOAD_STORE", "sqlite:///offload-approvals.db"))
server = MCPServer("deployer", extensions=[tasks], lifespan=tasks.lifespan)


def start_build(version: str) -> dict[str, str]:
    """Stands in for a CI call: each build gets a new id, so running it twice would show."""
    return {"id": f"{version}+{secrets.token_hex(3)}"}


async def deploy(build_id: str) -> None:
    """Stands in for the deployment itself."""


class Approval(BaseModel):
    approve: bool


@server.tool()
@tasks.tool(mode="required", retry=True)
async def release(version: str, ctx: Context) -> str:
    build = await step("build", start_build, version)  # runs once, whatever happens next
    answer = await ctx.elicit(f"Deploy {build['id']} to production?", Approval)
    if answer.action != "accept" or not answer.data.approve:
        return "not deployed"
    await step("deploy", deploy, build["id"])  # runs once, after the approval
    return f"deployed {build['id']}"
