"""A server for the operations tests: tools that park, wait for input, finish or fail on demand.

`OPS_MARKS` names a folder where `hold` records that it started and that it was stopped, so a test
sees the tool itself stop when an operator cancels its task from outside.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from offload import Tasks

MARKS = Path(os.environ.get("OPS_MARKS", "."))


def _telemetry() -> None:
    """With OPS_METRICS_PORT: a Prometheus endpoint; with OPS_SPANS: finished spans as JSON lines there."""
    if port := os.environ.get("OPS_METRICS_PORT"):
        from offload.observe.prometheus import start_metrics_endpoint

        start_metrics_endpoint(int(port))
    if path := os.environ.get("OPS_SPANS"):
        from collections.abc import Sequence

        from opentelemetry import trace
        from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

        class JsonLines(SpanExporter):
            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                with open(path, "a") as out:
                    for span in spans:
                        out.write(span.to_json(indent=None) + "\n")
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(JsonLines()))
        trace.set_tracer_provider(provider)


_telemetry()

tasks = Tasks(lease_s=1.0, sweep_interval_s=0.2, poll_interval_ms=200, budget_s=0.05)
server = MCPServer("ops", extensions=[tasks], lifespan=tasks.lifespan)


class Confirm(BaseModel):
    ok: bool


@server.tool()
@tasks.tool(mode="required")
async def hold(tag: str) -> str:
    """Runs until cancelled; leaves `<tag>.started` and, once stopped, `<tag>.stopped`."""
    (MARKS / f"{tag}.started").write_text(str(os.getpid()))
    try:
        await anyio.sleep(600)
    finally:
        (MARKS / f"{tag}.stopped").write_text(str(os.getpid()))
    return "never"


@server.tool()
@tasks.tool(mode="required")
async def ask(question: str, ctx: Context) -> str:
    answer = await ctx.elicit(question, Confirm)
    return f"answered {answer.action}"


@server.tool()
@tasks.tool(mode="required", retry=True)
async def again(tag: str) -> str:
    """Safe to retry: leaves `<tag>.<pid>` each time it starts, then takes a while."""
    (MARKS / f"{tag}.{os.getpid()}").write_text("started")
    await anyio.sleep(float(os.environ.get("OPS_AGAIN_S", "3")))
    return f"again {tag}"


@server.tool()
@tasks.tool(mode="required")
async def echo(text: str) -> str:
    return f"echo: {text}"


@server.tool()
@tasks.tool(mode="required")
async def boom(text: str) -> str:
    raise RuntimeError(f"boom: {text}")
