"""Approvals that survive crashes and deploys: a retry-safe tool with durable steps around a question.

Each step appends "<pid> <step> <tag>" to the file named by APPROVAL_LOG, so a test counts how many
times each side effect ran, and where. APPROVAL_PARK_AFTER_S sets `park_after_s` ("inf": never park
while the instance runs; a clean shutdown still parks).
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from offload import Tasks, step

LOG = os.environ["APPROVAL_LOG"]
PARK_AFTER_S = float(os.environ.get("APPROVAL_PARK_AFTER_S", "inf"))

tasks = Tasks(lease_s=1.0, sweep_interval_s=0.2, poll_interval_ms=100, park_after_s=PARK_AFTER_S)
server = MCPServer("approvals", extensions=[tasks], lifespan=tasks.lifespan)


class Approval(BaseModel):
    approve: bool


def effect(name: str, tag: str) -> str:
    with open(LOG, "a") as log:
        log.write(f"{os.getpid()} {name} {tag}\n")
    return f"{name} {tag}"


@server.tool()
@tasks.tool(mode="optional", retry=True, max_attempts=10)
async def release(tag: str, ctx: Context) -> str:
    """Build, ask a human, then deploy: each side effect exactly once, whatever restarts between."""
    built = await step("build", effect, "build", tag)
    answer = await ctx.elicit(f"Deploy {tag} to production?", Approval)
    if answer.action != "accept" or not answer.data.approve:
        return f"{built}; not deployed"
    deployed = await step("deploy", effect, "deploy", tag)
    return f"{built}; {deployed}"
