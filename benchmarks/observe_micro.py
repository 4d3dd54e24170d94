"""The hooks' own cost, in-process: `.venv/bin/python benchmarks/observe_micro.py`.

What benchmarks/observe.py measures over HTTP drowns in noise on a shared machine; this times the
code the hooks add, best of several repeats (robust to other load): `SQLiteStore.get` bare and
through `InstrumentedStore`, and one task's hooks (probe, running span, created, finished), each
with telemetry off (OpenTelemetry API only) and on (SDK MeterProvider with a Prometheus reader, SDK
TracerProvider recording every span into a batch processor that drops them).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from offload.observe import TaskProbe, instrument_store, task_created, task_finished
from offload.observe import metrics as metrics_mod
from offload.observe import tracing as tracing_mod
from offload.store import SQLiteStore, TaskRecord

N = 20_000
REPEATS = 7


class Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def telemetry(on: bool) -> None:
    if on:
        provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=CollectorRegistry())])
        metrics_mod._metrics = metrics_mod.TaskMetrics(provider.get_meter("offload"))
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(BatchSpanProcessor(Drop()))
        tracing_mod.provider = tracer_provider
    else:
        metrics_mod._metrics = metrics_mod.TaskMetrics()  # the global (no-op) API meter
        tracing_mod.provider = None


def best_us(fn: Callable[[], object], n: int = N) -> float:
    runs = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return min(runs)


async def abest_us(fn: Callable[[], object], n: int = N) -> float:
    runs = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(n):
            await fn()  # type: ignore[misc]
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return min(runs)


REC = TaskRecord("t", "zero")
DONE = TaskRecord("t", "zero", status="completed", created_ms=0, updated_ms=5)


def one_task() -> None:
    probe = TaskProbe(REC)
    with probe.running():
        task_created(REC)
        task_finished(DONE)


async def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        raw = SQLiteStore(Path(tmp) / "t.db")
        await raw.open()
        await raw.create(TaskRecord("t", "zero", status="completed", result={"content": []}))
        for on in (False, True):
            telemetry(on)
            wrapped = instrument_store(raw)
            bare = await abest_us(lambda: raw.get("t"))
            inst = await abest_us(lambda: wrapped.get("t"))  # noqa: B023
            rows.append(("store.get", "on" if on else "off", bare, inst))
            rows.append(("one task's hooks", "on" if on else "off", 0.0, best_us(one_task, N // 4)))
        await raw.close()
    print("| what | telemetry | bare us | with hooks us | added us |")
    print("|---|---|---:|---:|---:|")
    for what, mode, bare, inst in rows:
        if what == "store.get":
            print(f"| SQLiteStore.get | {mode} | {bare:.2f} | {inst:.2f} | {inst - bare:+.2f} |")
        else:
            print(f"| {what} (probe, span, created, finished) | {mode} | | {inst:.2f} | {inst:+.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
