"""A server for the official MCP conformance suite: core fixtures plus the Tasks extension ones.

    offload serve examples/conformance_server.py --port 8765
    bash scripts/conformance.sh            # installs the suite and runs it against this file

It exposes every fixture the `@modelcontextprotocol/conformance` server scenarios call:

* the Tasks (SEP-2663) fixtures of the `tasks-*` scenarios: `greet`, `slow_compute`,
  `failing_job`, `protocol_error_job`, `confirm_delete`, `multi_input`, `test_tool_with_task`;
* the "everything server" tools, resources, prompts and completions of the 2026-07-28
  required scenarios, including the multi-round-trip (`InputRequiredResult`) ones.

Tasks live in a SQLite file in the temporary directory; `offload serve --store URL` replaces it.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer, RequestStateSecurity
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INTERNAL_ERROR,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    AudioContent,
    Completion,
    CompletionArgument,
    CompletionContext,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    ImageContent,
    InputRequest,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    PromptReference,
    ResourceTemplateReference,
    SamplingMessage,
    TextContent,
    TextResourceContents,
)
from pydantic import BaseModel, Field

from offload import Tasks

STORE_URL = "sqlite:///" + os.path.join(tempfile.gettempdir(), "offload-conformance-tasks.db")

# A 1x1 PNG and a tiny WAV header: the payloads the content-type scenarios expect.
PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

# The conformance harness polls every 200 ms; suggest the same so the suite stays fast.
tasks = Tasks(STORE_URL, poll_interval_ms=200)


def _json_schema_2020_12_tool() -> Tool:
    """A tool whose inputSchema uses JSON Schema 2020-12 keywords that must survive tools/list verbatim."""

    def json_schema_2020_12_tool() -> str:
        """Tests JSON Schema 2020-12 keyword preservation in tools/list."""
        return "json_schema_2020_12_tool"

    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            }
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"},
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": False,
    }
    return Tool.from_function(json_schema_2020_12_tool).model_copy(update={"parameters": schema})


server = MCPServer(
    "offload-conformance",
    version="0.1.0",
    tools=[_json_schema_2020_12_tool()],
    extensions=[tasks],
    lifespan=tasks.lifespan,
    # Seals requestState (AES-GCM) so a tampered echo is rejected; the key lives in this process only.
    request_state_security=RequestStateSecurity.ephemeral(),
)


# ---------------------------------------------------------------------------------------------
# Tasks extension fixtures (tasks-* scenarios)
# ---------------------------------------------------------------------------------------------


@server.tool()
@tasks.tool(mode="forbidden")
def greet(name: str) -> str:
    """Greet someone. Always answered inline, never as a task."""
    return f"Hello, {name}!"


@server.tool()
@tasks.tool(mode="optional")
async def slow_compute(seconds: float, label: str) -> str:
    """Sleep `seconds`, then report. A task when the client declared the extension."""
    await anyio.sleep(seconds)
    return f"{label}: computed in {seconds:g} s"


@server.tool()
@tasks.tool(mode="required")
async def failing_job() -> str:
    """Always a task; fails as a tool (the task completes with `isError: true`)."""
    await anyio.sleep(1)
    raise ToolError("failing_job failed, as it always does")


@server.tool()
@tasks.tool(mode="optional")
async def protocol_error_job() -> str:
    """Raises a JSON-RPC error: the task ends `failed` with `error`."""
    await anyio.sleep(0.2)
    raise MCPError(code=INTERNAL_ERROR, message="protocol_error_job hit a protocol-level error")


class Confirmation(BaseModel):
    confirm: bool = Field(description="Go ahead?")


@server.tool()
@tasks.tool(mode="optional", retry=True)  # replayed, never asked twice (docs/approvals.md)
async def confirm_delete(filename: str, ctx: Context) -> str:
    """Ask the user to confirm before "deleting" a file (elicitation inside a task)."""
    answer = await ctx.elicit(f"Delete {filename}?", schema=Confirmation)
    if answer.action == "accept" and answer.data.confirm:
        return f"Deleted {filename}"
    return f"Kept {filename}"


class PartialInput(BaseModel):
    name: str | None = Field(default=None, description="A name")
    confirm: bool | None = Field(default=None, description="Confirm?")


@server.tool()
@tasks.tool(mode="optional", retry=True)  # replayed, never asked twice (docs/approvals.md)
async def multi_input(ctx: Context) -> str:
    """Ask two questions at once; the task waits until both are answered."""
    names: dict[int, str | None] = {}

    async def ask(i: int) -> None:
        answer = await ctx.elicit(f"Input {i} of 2", schema=PartialInput)
        names[i] = answer.data.name if answer.action == "accept" else None

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask, 1)
        tg.start_soon(ask, 2)
    return f"Received {names[1]} and {names[2]}"


NAME_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def ask_name(message: str = "What is your name?") -> ElicitRequest:
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=NAME_SCHEMA))


def accepted(answer: Any, field: str) -> Any:
    """`content[field]` of an accepted elicitation answer, else None."""
    if isinstance(answer, ElicitResult) and answer.action == "accept" and answer.content:
        return answer.content.get(field)
    return None


@server.tool()
@tasks.tool(mode="required")
async def test_tool_with_task(ctx: Context) -> str | InputRequiredResult:
    """MRTR then task: round 1 asks for a name inline, round 2 becomes a task that greets it."""
    responses = ctx.input_responses or {}
    if "user_name" not in responses or ctx.request_state != "asked-name":
        # Returned before any await: offload answers it inline, before a task exists.
        return InputRequiredResult(input_requests={"user_name": ask_name()}, request_state="asked-name")
    name = accepted(responses["user_name"], "name") or "stranger"
    await anyio.sleep(1)
    return f"Hello, {name}! (from a task)"


# ---------------------------------------------------------------------------------------------
# Core tools (tools-* scenarios)
# ---------------------------------------------------------------------------------------------


@server.tool()
def test_simple_text() -> str:
    """Tests simple text content response"""
    return "This is a simple text response for testing."


@server.tool()
def test_image_content() -> list[ImageContent]:
    """Tests image content response"""
    return [ImageContent(type="image", data=PNG_BASE64, mime_type="image/png")]


@server.tool()
def test_audio_content() -> list[AudioContent]:
    """Tests audio content response"""
    return [AudioContent(type="audio", data=WAV_BASE64, mime_type="audio/wav")]


def _text_resource(uri: str, text: str, mime_type: str = "text/plain") -> EmbeddedResource:
    return EmbeddedResource(type="resource", resource=TextResourceContents(uri=uri, mime_type=mime_type, text=text))


@server.tool()
def test_embedded_resource() -> list[EmbeddedResource]:
    """Tests embedded resource content response"""
    return [_text_resource("test://embedded-resource", "This is an embedded resource content.")]


@server.tool()
def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
    """Tests response with multiple content types (text, image, resource)"""
    return [
        TextContent(type="text", text="Multiple content types test:"),
        ImageContent(type="image", data=PNG_BASE64, mime_type="image/png"),
        _text_resource("test://mixed-content-resource", '{"test": "data", "value": 123}', "application/json"),
    ]


@server.tool()
async def test_tool_with_progress(ctx: Context) -> str:
    """Tests tool that reports progress notifications"""
    for step in (0, 50, 100):
        await ctx.report_progress(progress=step, total=100, message=f"Completed step {step} of 100")
        if step < 100:
            await anyio.sleep(0.05)
    meta = ctx.request_context.meta or {}
    return str(meta.get("progress_token", 0))


@server.tool()
def test_error_handling() -> str:
    """Tests error response handling"""
    raise ToolError("This tool intentionally returns an error for testing")


@server.tool()
def test_x_mcp_header(
    region: Annotated[
        str,
        Field(description="Mirrored into the Mcp-Param-Region header", json_schema_extra={"x-mcp-header": "Region"}),
    ] = "<none>",
) -> str:
    """Tests SEP-2243 Mcp-Param-* header validation"""
    return f"region={region}"


@server.tool()
async def test_reconnection(ctx: Context) -> str:
    """Tests SSE polling (SEP-1699): closes the response stream mid-call when the server can resume it"""
    await ctx.close_sse_stream()  # a no-op unless the HTTP app has an event store
    await anyio.sleep(0.2)
    return "Reconnection test completed"


@server.tool()
async def test_missing_capability(ctx: Context) -> str:
    """Needs the client's `sampling` capability; without it the call fails with -32021."""
    caps = ctx.client_capabilities
    if caps is None or caps.sampling is None:
        raise MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message="This tool requires the client 'sampling' capability",
            data={"requiredCapabilities": {"sampling": {}}},
        )
    return "Client declared sampling capability; proceeding."


# ---------------------------------------------------------------------------------------------
# Multi-round-trip (InputRequiredResult, SEP-2322) tools (input-required-result-* scenarios)
# ---------------------------------------------------------------------------------------------


def ask_model(text: str, max_tokens: int = 100) -> CreateMessageRequest:
    return CreateMessageRequest(
        params=CreateMessageRequestParams(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=text))], max_tokens=max_tokens
        )
    )


def ask_confirmation() -> ElicitRequest:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    return ElicitRequest(params=ElicitRequestFormParams(message="Please confirm", requested_schema=schema))


@server.tool()
async def test_input_required_result_elicitation(ctx: Context) -> str | InputRequiredResult:
    """Tests InputRequiredResult with a single elicitation request"""
    responses = ctx.input_responses or {}
    if "user_name" in responses:
        return f"Hello, {accepted(responses['user_name'], 'name') or 'stranger'}!"
    return InputRequiredResult(input_requests={"user_name": ask_name()})


@server.tool()
async def test_input_required_result_sampling(ctx: Context) -> str | InputRequiredResult:
    """Tests InputRequiredResult with a single sampling request"""
    responses = ctx.input_responses or {}
    if "capital_question" in responses:
        answer = responses["capital_question"]
        ok = isinstance(answer, CreateMessageResult) and answer.content.type == "text"
        return f"Model said: {answer.content.text if ok else '?'}"  # type: ignore[union-attr]
    return InputRequiredResult(input_requests={"capital_question": ask_model("What is the capital of France?")})


@server.tool()
async def test_input_required_result_list_roots(ctx: Context) -> str | InputRequiredResult:
    """Tests InputRequiredResult with a single roots/list request"""
    responses = ctx.input_responses or {}
    if "client_roots" in responses:
        answer = responses["client_roots"]
        count = len(answer.roots) if isinstance(answer, ListRootsResult) else 0
        return f"Client exposed {count} root(s)."
    return InputRequiredResult(input_requests={"client_roots": ListRootsRequest()})


@server.tool()
async def test_input_required_result_request_state(ctx: Context) -> str | InputRequiredResult:
    """Tests requestState round-tripping in the InputRequiredResult flow"""
    responses = ctx.input_responses or {}
    if "confirm" in responses and ctx.request_state == "request-state-nonce":
        return "state-ok: confirmation received"
    return InputRequiredResult(input_requests={"confirm": ask_confirmation()}, request_state="request-state-nonce")


@server.tool()
async def test_input_required_result_multiple_inputs(ctx: Context) -> str | InputRequiredResult:
    """Tests InputRequiredResult carrying elicitation, sampling and roots requests together"""
    responses = ctx.input_responses or {}
    if {"user_name", "greeting", "client_roots"} <= responses.keys():
        return "All inputs received."
    return InputRequiredResult(
        input_requests={
            "user_name": ask_name(),
            "greeting": ask_model("Generate a greeting", max_tokens=50),
            "client_roots": ListRootsRequest(),
        },
        request_state="multiple-inputs",
    )


@server.tool()
async def test_input_required_result_multi_round(ctx: Context) -> str | InputRequiredResult:
    """Tests a three-round InputRequiredResult flow whose requestState evolves"""
    state = json.loads(ctx.request_state) if ctx.request_state else {"round": 0}
    responses = ctx.input_responses or {}
    if state["round"] == 1 and "step1" in responses:
        color_schema = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
        step2 = ElicitRequest(
            params=ElicitRequestFormParams(
                message="Step 2: What is your favorite color?", requested_schema=color_schema
            )
        )
        name = accepted(responses["step1"], "name")
        return InputRequiredResult(
            input_requests={"step2": step2}, request_state=json.dumps({"round": 2, "name": name})
        )
    if state["round"] == 2 and "step2" in responses:
        return f"{state.get('name')} likes {accepted(responses['step2'], 'color')}."
    # First round, or an answer that does not fit the state: (re)start at step 1.
    return InputRequiredResult(
        input_requests={"step1": ask_name("Step 1: What is your name?")}, request_state=json.dumps({"round": 1})
    )


@server.tool()
async def test_input_required_result_tampered_state(ctx: Context) -> str | InputRequiredResult:
    """Tests that a tampered requestState echo is rejected (the SDK unseals and checks it)"""
    if ctx.request_state is None:
        return InputRequiredResult(input_requests={"confirm": ask_confirmation()}, request_state="round-1")
    return f"state-ok: {ctx.request_state}"


@server.tool()
async def test_input_required_result_capabilities(ctx: Context) -> InputRequiredResult:
    """Tests that inputRequests only use methods the client declared"""
    caps = ctx.client_capabilities
    requests: dict[str, InputRequest] = {}
    if caps is None or caps.sampling is not None:
        requests["sample"] = ask_model("Say hello", max_tokens=50)
    if caps is None or caps.elicitation is not None:
        requests["ask"] = ask_name()
    return InputRequiredResult(input_requests=requests, request_state="capability-gated")


# ---------------------------------------------------------------------------------------------
# Resources, prompts, completion
# ---------------------------------------------------------------------------------------------


@server.resource("test://static-text")
def static_text() -> str:
    """A static text resource for testing"""
    return "This is the content of the static text resource."


@server.resource("test://static-binary")
def static_binary() -> bytes:
    """A static binary resource (a PNG) for testing"""
    return base64.b64decode(PNG_BASE64)


@server.resource("test://template/{id}/data")
def template_data(id: str) -> str:
    """A resource template with parameter substitution"""
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@server.resource("test://watched-resource")
def watched_resource() -> str:
    """A resource clients can watch for updates"""
    return "Watched resource content"


def _user_text(text: str) -> UserMessage:
    return UserMessage(role="user", content=TextContent(type="text", text=text))


@server.prompt()
def test_simple_prompt() -> list[UserMessage]:
    """A simple prompt without arguments"""
    return [_user_text("This is a simple prompt for testing.")]


@server.prompt()
def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
    """A prompt with required arguments"""
    return [_user_text(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]


@server.prompt()
def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:
    """A prompt that includes an embedded resource"""
    return [
        UserMessage(role="user", content=_text_resource(resourceUri, "Embedded resource content for testing.")),
        _user_text("Please process the embedded resource above."),
    ]


@server.prompt()
def test_prompt_with_image() -> list[UserMessage]:
    """A prompt that includes image content"""
    return [
        UserMessage(role="user", content=ImageContent(type="image", data=PNG_BASE64, mime_type="image/png")),
        _user_text("Please analyze the image above."),
    ]


@server.prompt()
async def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | InputRequiredResult:
    """Tests InputRequiredResult from prompts/get (a non-tool request)"""
    responses = ctx.input_responses or {}
    if "user_context" in responses:
        return [_user_text(f"Use the following context: {accepted(responses['user_context'], 'context') or '?'}")]
    schema = {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}
    ask = ElicitRequest(
        params=ElicitRequestFormParams(message="What context should the prompt use?", requested_schema=schema)
    )
    return InputRequiredResult(input_requests={"user_context": ask})


@server.completion()
async def complete(
    ref: PromptReference | ResourceTemplateReference, argument: CompletionArgument, context: CompletionContext | None
) -> Completion:
    """Suggest a few values for any argument, filtered by what was typed so far."""
    values = [v for v in ("alpha", "beta", "gamma") if v.startswith(argument.value)]
    return Completion(values=values, total=len(values), has_more=False)
