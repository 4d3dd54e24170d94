"""The tools and helpers several fixture servers serve: each written once, here.

A server file imports what it needs (`offload serve FILE` puts this folder on `sys.path`; a server
run as a script has it there already) and registers a shared tool with `register`, under the task
policy that server gives it. Tools that only one server has stay in that server's file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import anyio
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequest, ElicitRequestFormParams, InputRequiredResult
from pydantic import BaseModel

from offload import Tasks

#: How long a gated tool waits for its gate file before it fails, unless its server says otherwise.
GATE_TIMEOUT_S = 30.0


def register(server: MCPServer[Any], tasks: Tasks | None, tool: Callable[..., Any], **policy: Any) -> None:
    """Serve `tool` on `server`, as `@server.tool()` over `@tasks.tool(**policy)` would (no task policy
    without `tasks`). `name` in `policy` serves it under another name."""
    if tasks is not None:
        tasks.tool(**policy)(tool)
    server.tool(name=policy.get("name"))(tool)


# -- callers --


class Verifier:
    """Bearer tokens of the two callers the principal tests use, alice and bob."""

    TOKENS: ClassVar[dict[str, str]] = {"alice-token": "alice", "bob-token": "bob"}

    async def verify_token(self, token: str) -> AccessToken | None:
        who = self.TOKENS.get(token)
        return AccessToken(token=token, client_id=who, scopes=[], subject=who) if who else None


def bearer_auth(port: int | str) -> dict[str, Any]:
    """`MCPServer` arguments that require one of `Verifier`'s tokens on the server at `port`."""
    return {
        "token_verifier": Verifier(),
        "auth": AuthSettings(issuer_url="http://127.0.0.1:9/", resource_server_url=f"http://127.0.0.1:{port}/mcp"),
    }


# -- what a test observes from outside: start counts and gate files --


def count_start(path: str) -> int:
    """Count one more start of the tool in `path.starts`; return the count."""
    starts = Path(path + ".starts")
    n = int(starts.read_text()) + 1 if starts.exists() else 1
    starts.write_text(str(n))
    return n


async def wait_for_file(path: str, timeout_s: float = GATE_TIMEOUT_S) -> None:
    """Wait until the test creates `path` (a gate), so a tool ends when the test says, not on a timer."""
    with anyio.fail_after(timeout_s):
        while not Path(path).exists():
            await anyio.sleep(0.02)


# -- tools --


class Name(BaseModel):
    name: str


async def quick(x: int) -> str:
    """Answers at once."""
    return f"quick:{x}"


async def ask_name(ctx: Context) -> str:
    r = await ctx.elicit("Please enter your name.", Name)
    return f"Hello, {r.data.name}!" if r.action == "accept" else f"no name ({r.action})"


def ask_confirm() -> InputRequiredResult:
    """The question `confirm_first` asks before it runs: a yes/no form under the key `confirm`."""
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    ask = ElicitRequest(params=ElicitRequestFormParams(message="Really do it?", requested_schema=schema))
    return InputRequiredResult(input_requests={"confirm": ask})


async def confirm_first(ctx: Context) -> InputRequiredResult | str:
    """Asks before it becomes a task (an MRTR round on tools/call itself)."""
    answer = (ctx.input_responses or {}).get("confirm")
    if answer is None:
        return ask_confirm()
    await anyio.sleep(0.05)
    content = getattr(answer, "content", None) or {}
    return f"confirmed ok={content.get('ok')}"


async def tool_error() -> str:
    """Fails as a tool does (an exception): the task completes with an error result."""
    await anyio.sleep(0.05)
    raise ValueError("the widget is broken")


def raises_rpc_error(message: str, delay_s: float = 0.05) -> Callable[[], Awaitable[str]]:
    """A tool that fails with a JSON-RPC error (code -32050, `message`) after `delay_s`: the task
    fails with that error. Each server serves it under its own name, with its own message."""

    async def rpc_error() -> str:
        await anyio.sleep(delay_s)
        raise MCPError(code=-32050, message=message)

    return rpc_error


async def ask_twice(ctx: Context) -> str:
    """Asks one question, then another after the first is answered."""
    first = await ctx.elicit("First name?", Name)
    second = await ctx.elicit("Last name?", Name)
    if first.action != "accept" or second.action != "accept":
        return "declined"
    return f"{first.data.name} {second.data.name}"
