"""Task traces through the OpenTelemetry API: no-op spans until a TracerProvider is installed.

One trace per task: `offload.task.create` is a child of the caller's span when the call's `_meta`
carries W3C trace context (`traceparent`, `tracestate`: the keys MCP clients propagate), each
attempt's `offload.task.execute` is a child of the creation span on whichever instance runs it, and
every input request gets an `offload.task.input_wait` span. An instance that takes a task over finds
the creation span's context stored with the task (`request["trace"]`, written by `remember_trace`),
so its attempt joins the same trace, with a link to the creation span as well.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "ATTR_ATTEMPT",
    "ATTR_STATUS",
    "ATTR_TASK_ID",
    "ATTR_TOOL",
    "TRACE_KEY",
    "creation_span",
    "enabled",
    "execution_span",
    "input_wait_span",
    "remember_trace",
    "stored_context",
    "tracer",
]

ATTR_TASK_ID: Final = "offload.task.id"
ATTR_TOOL: Final = "offload.tool"
ATTR_STATUS: Final = "offload.task.status"
ATTR_ATTEMPT: Final = "offload.task.attempt"
#: Where `remember_trace` keeps the creation span's context in a task's stored request.
TRACE_KEY: Final = "trace"

_propagator = TraceContextTextMapPropagator()
#: None: the global TracerProvider (what an application configures); tests set their own.
provider: trace.TracerProvider | None = None


_tracers: dict[int, trace.Tracer] = {}


def tracer() -> trace.Tracer:
    """The `offload` tracer (cached: `get_tracer` costs microseconds; the global one is a proxy that
    follows a provider installed later)."""
    key = id(provider)
    found = _tracers.get(key)
    if found is None:
        found = _tracers[key] = trace.get_tracer("offload", tracer_provider=provider)
    return found


def enabled() -> bool:
    """Whether spans go anywhere: a TracerProvider (an SDK's) is installed. Without one every span
    would be a non-recording one, and entering it still costs tens of microseconds: skip them."""
    global _checked
    if provider is not None:
        return True
    on, at = _checked
    now = time.monotonic()
    if on or now - at < 1.0:  # a provider is installed once per process: look again at most every second
        return on
    installed = trace.get_tracer_provider()  # reads the environment each time it finds none
    on = not isinstance(installed, trace.ProxyTracerProvider | trace.NoOpTracerProvider)
    _checked = (on, now)
    return on


_checked: tuple[bool, float] = (False, -1e9)


def _carrier(meta: Mapping[str, Any] | None) -> dict[str, str]:
    if not meta:
        return {}
    return {k: v for k in ("traceparent", "tracestate") if isinstance(v := meta.get(k), str)}


@contextmanager
def creation_span(tool: str, meta: Mapping[str, Any] | None = None) -> Iterator[trace.Span]:
    """Around a task's creation (`tools/call` that becomes a task). The parent is the caller's span
    from `_meta` when present, else whatever span is current (an instrumented HTTP server's)."""
    if not enabled():
        yield trace.INVALID_SPAN
        return
    carrier = _carrier(meta)
    parent = _propagator.extract(carrier) if carrier else None
    with tracer().start_as_current_span(
        "offload.task.create", context=parent, kind=trace.SpanKind.SERVER, attributes={ATTR_TOOL: tool}
    ) as span:
        yield span


def remember_trace(request: dict[str, Any] | None) -> None:
    """Store the current span's context in a task's request snapshot, for the instance that may
    run the task later (a worker, or one taking it over). Nothing is stored without a live span."""
    if request is None or not enabled() or not trace.get_current_span().get_span_context().is_valid:
        return
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    if carrier:
        request[TRACE_KEY] = carrier


def stored_context(request: Mapping[str, Any] | None) -> otel_context.Context | None:
    """The creation span's context kept in a task's request, if any."""
    carrier = request.get(TRACE_KEY) if request else None
    if not isinstance(carrier, dict):
        return None
    ctx = _propagator.extract(_carrier(carrier))
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


@contextmanager
def execution_span(
    task_id: str, tool: str, attempt: int, request: Mapping[str, Any] | None = None
) -> Iterator[trace.Span]:
    """Around one attempt at running a task's tool on this instance.

    In the process that created the task the creation span is current, so this is its child. An
    instance that claimed the task (a worker, or a takeover after a lost lease) has no current
    span: the parent then comes from the context stored with the task, and a link marks it.
    """
    if not enabled():
        yield trace.INVALID_SPAN
        return
    parent: otel_context.Context | None = None
    links: list[trace.Link] = []
    if not trace.get_current_span().get_span_context().is_valid:
        parent = stored_context(request)
        if parent is not None:
            links.append(trace.Link(trace.get_current_span(parent).get_span_context(), {"offload.link": "created"}))
    attrs: dict[str, str | int] = {ATTR_TASK_ID: task_id, ATTR_TOOL: tool, ATTR_ATTEMPT: attempt}
    with tracer().start_as_current_span(
        "offload.task.execute", context=parent, kind=trace.SpanKind.INTERNAL, attributes=attrs, links=links
    ) as span:
        yield span


@contextmanager
def input_wait_span(task_id: str, tool: str, key: str, method: str) -> Iterator[trace.Span]:
    """Around the wait for the answer to one input request (elicitation, sampling, roots)."""
    if not enabled():
        yield trace.INVALID_SPAN
        return
    attrs = {ATTR_TASK_ID: task_id, ATTR_TOOL: tool, "offload.input.key": key, "offload.input.method": method}
    with tracer().start_as_current_span("offload.task.input_wait", attributes=attrs) as span:
        yield span
