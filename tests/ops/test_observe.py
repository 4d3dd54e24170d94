"""The observability hooks on their own: spans (in-memory exporter), metrics (in-memory reader), the
instrumented store over a real SQLite store, and the Prometheus endpoint in a process of its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from helpers import free_port, wait_until
from offload.observe import (
    TaskProbe,
    admission_refused,
    creation_span,
    execution_span,
    instrument_store,
    lease_takeover,
    remember_trace,
    task_created,
    task_finished,
)
from offload.observe import metrics as metrics_mod
from offload.observe import tracing as tracing_mod
from offload.store import SQLiteStore, TaskRecord

CALLER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_SPAN = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{CALLER_TRACE:032x}-{CALLER_SPAN:016x}-01"


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing_mod, "provider", provider)
    yield exporter
    provider.shutdown()


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(metrics_mod, "_metrics", metrics_mod.TaskMetrics(provider.get_meter("offload")))
    monkeypatch.setattr(metrics_mod, "_tool_attrs", {})
    yield reader
    provider.shutdown()


def points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    """name -> [(attributes, value or histogram count)]"""
    out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    value = getattr(p, "value", None)
                    if value is None:
                        value = (p.count, p.sum)  # type: ignore[attr-defined]
                    out.setdefault(metric.name, []).append((dict(p.attributes or {}), value))
    return out


def by_name(finished: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {s.name: s for s in finished}


def test_one_trace_per_task_from_the_callers_traceparent(spans: InMemorySpanExporter) -> None:
    request: dict[str, Any] = {"name": "build", "arguments": {}}
    with creation_span("build", {"traceparent": TRACEPARENT, "other": 1}) as span:
        span.set_attribute("offload.task.id", "t-1")
        remember_trace(request)
        with execution_span("t-1", "build", 1, request):  # on the creating instance: a child
            pass
    created = by_name(spans.get_finished_spans())["offload.task.create"]
    first = by_name(spans.get_finished_spans())["offload.task.execute"]
    assert created.context is not None and first.context is not None and created.parent is not None
    assert created.context.trace_id == CALLER_TRACE and created.parent.span_id == CALLER_SPAN
    assert created.kind == trace.SpanKind.SERVER and created.attributes == {
        "offload.tool": "build",
        "offload.task.id": "t-1",
    }
    assert first.parent is not None and first.parent.span_id == created.context.span_id
    assert first.attributes == {"offload.task.id": "t-1", "offload.tool": "build", "offload.task.attempt": 1}
    assert request["trace"]["traceparent"].split("-")[2] == f"{created.context.span_id:016x}"

    # Another instance takes the task over: no span is current there; the stored context joins the
    # attempt to the task's trace, and a link says where it came from.
    spans.clear()
    stored = {"name": "build", "trace": dict(request["trace"])}
    with execution_span("t-1", "build", 2, stored):
        pass
    (second,) = spans.get_finished_spans()
    assert second.context is not None and second.context.trace_id == CALLER_TRACE
    assert second.parent is not None and second.parent.span_id == created.context.span_id
    assert [link.context.span_id for link in second.links] == [created.context.span_id]
    assert second.attributes is not None and second.attributes["offload.task.attempt"] == 2


def test_without_caller_context_a_new_trace_and_no_stored_context(spans: InMemorySpanExporter) -> None:
    request: dict[str, Any] = {}
    remember_trace(request)  # no span: nothing stored
    assert request == {}
    with execution_span("t-2", "x", 2, {"trace": {"traceparent": "garbage"}}):
        pass
    (span,) = spans.get_finished_spans()
    assert span.parent is None and span.links == ()


def test_probe_spans_and_metrics(spans: InMemorySpanExporter, reader: InMemoryMetricReader) -> None:
    rec = TaskRecord("t-3", "deploy", request=None)
    probe = TaskProbe(rec)
    with probe.running():
        assert points(reader)["offload.tasks.in_flight"] == [({"tool": "deploy"}, 1)]
        probe.inputs(2)
        probe.inputs(1)  # still parked: counted once
        assert points(reader)["offload.tasks.parked"] == [({"tool": "deploy"}, 1)]
        with probe.input_wait("elicitation-1.1", "elicitation/create"):
            pass
        probe.inputs(0)
        assert points(reader)["offload.tasks.parked"] == [({"tool": "deploy"}, 0)]
        probe.inputs(1)  # parked again when the run ends: the gauge goes back down too
        done = TaskRecord("t-3", "deploy", status="failed", created_ms=1000, updated_ms=3500, error={"message": "no"})
        task_finished(done)
    got = points(reader)
    assert got["offload.tasks.in_flight"] == [({"tool": "deploy"}, 0)]
    assert got["offload.tasks.parked"] == [({"tool": "deploy"}, 0)]
    assert got["offload.tasks.finished"] == [({"tool": "deploy", "status": "failed"}, 1)]
    assert got["offload.task.duration"] == [({"tool": "deploy", "status": "failed"}, (1, 2.5))]
    assert got["offload.input.wait"][0][0] == {"tool": "deploy"} and got["offload.input.wait"][0][1][0] == 1
    named = by_name(spans.get_finished_spans())
    wait, run = named["offload.task.input_wait"], named["offload.task.execute"]
    assert wait.parent is not None and run.context is not None and wait.parent.span_id == run.context.span_id
    assert wait.attributes is not None and wait.attributes["offload.input.key"] == "elicitation-1.1"
    assert run.attributes is not None and run.attributes["offload.task.status"] == "failed"
    assert run.status.status_code == trace.StatusCode.ERROR


def test_counters_and_the_bound_on_tool_names(reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch) -> None:
    task_created(TaskRecord("a", "alpha"))
    task_created(TaskRecord("b", "alpha", status="completed", created_ms=0, updated_ms=100))  # done while stored
    lease_takeover(TaskRecord("c", "beta", attempts=2))
    admission_refused("max_running")
    admission_refused("max_running")
    got = points(reader)
    assert got["offload.tasks.created"] == [({"tool": "alpha"}, 2)]
    assert got["offload.tasks.finished"] == [({"tool": "alpha", "status": "completed"}, 1)]
    assert got["offload.lease.takeovers"] == [({"tool": "beta"}, 1)]
    assert got["offload.admission.refusals"] == [({"reason": "max_running"}, 2)]
    monkeypatch.setattr(metrics_mod, "MAX_TOOLS", 3)
    for i in range(6):
        task_created(TaskRecord(f"n{i}", f"tool-{i}"))
    created = {a["tool"]: v for a, v in points(reader)["offload.tasks.created"]}
    # alpha and beta were seen already: one more name fits, the rest share "_other"
    assert created == {"alpha": 2, "tool-0": 1, "_other": 5}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "t.db")
    await store.open()
    yield store
    await store.close()


@pytest.mark.anyio
async def test_instrumented_store_times_every_call(reader: InMemoryMetricReader, sqlite: SQLiteStore) -> None:
    store = instrument_store(sqlite)
    assert instrument_store(store) is store and store.url == sqlite.url
    await store.create(TaskRecord("s1", "alpha"))
    with pytest.raises(ValueError):
        await store.create(TaskRecord("s1", "alpha"))  # a caller's mistake, not a store error
    assert (await store.get("s1")) is not None
    assert (await store.update("s1", {"status_message": "half"})) is not None
    assert (await store.list_tasks())[0][0].task_id == "s1"
    await store.create(TaskRecord("s2", "alpha", owner="me", status="input_required", input_requests={"k": {}}))
    assert await store.answer("s2", {"k": 1}, hold=False) == {"k": 1}
    assert await store.answered_tasks("me") == []  # `hold` reached the backend
    assert await store.record("s2", "step", {"v": 1}, owner="me") is True
    assert await store.journal("s2") == {"k": {"answer": 1}, "step": {"v": 1}}
    counts = {a["op"]: v[0] for a, v in points(reader)["offload.store.duration"]}
    assert counts == {
        "create": 3,
        "get": 1,
        "update": 1,
        "list_tasks": 1,
        "answer": 1,
        "answered_tasks": 1,
        "record": 1,
        "journal": 1,
    }
    assert {a["backend"] for a, _ in points(reader)["offload.store.duration"]} == {"sqlite"}
    assert "offload.store.errors" not in points(reader)
    await sqlite.close()  # the store goes away under the runtime
    with pytest.raises(RuntimeError):
        await store.get("s1")
    assert points(reader)["offload.store.errors"] == [({"op": "get", "backend": "sqlite"}, 1)]


def test_prometheus_endpoint(tmp_path: Path) -> None:
    """In a process of its own: a MeterProvider can be installed once per process."""
    port = free_port()
    script = textwrap.dedent(
        f"""
        import time
        from offload.observe import task_created, task_finished, TaskProbe
        from offload.observe.prometheus import start_metrics_endpoint
        from offload.store import TaskRecord
        start_metrics_endpoint({port})
        task_created(TaskRecord("a", "render"))
        task_finished(TaskRecord("a", "render", status="completed", created_ms=0, updated_ms=1500))
        open({str(tmp_path / "ready")!r}, "w").close()
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        wait_until(lambda: (tmp_path / "ready").exists(), what="the metrics endpoint")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'offload_tasks_created_total{tool="render"} 1.0' in text
        assert 'offload_tasks_finished_total{status="completed",tool="render"} 1.0' in text
        assert 'offload_task_duration_seconds_bucket{le="2.5",status="completed",tool="render"} 1.0' in text
    finally:
        proc.kill()
        proc.wait()


def test_metrics_flags_are_off_by_default(tmp_path: Path) -> None:
    """`--metrics-port` (what `offload serve` and `offload worker` take): nothing listens without it."""
    port = free_port()
    script = textwrap.dedent(
        f"""
        import argparse, socket, sys, time
        from offload.observe.prometheus import add_metrics_arguments, apply_metrics_arguments
        parser = argparse.ArgumentParser()
        add_metrics_arguments(parser)
        apply_metrics_arguments(parser.parse_args([]))
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
            sys.exit("something listens without --metrics-port")
        except OSError:
            pass
        apply_metrics_arguments(parser.parse_args(["--metrics-port", "{port}"]))
        open({str(tmp_path / "ready")!r}, "w").close()
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        wait_until(lambda: (tmp_path / "ready").exists() or proc.poll() is not None, what="the flags to apply")
        assert proc.poll() is None, "the script failed"
        reply = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert reply.status_code == 200 and "# TYPE" in reply.text
    finally:
        proc.kill()
        proc.wait()
