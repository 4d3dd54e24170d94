"""benchmarks/bench_server.py with telemetry switched by OFFLOAD_BENCH_TELEMETRY:

- `off` (default): no OpenTelemetry SDK; offload's hooks call the API's no-op instruments and spans.
- `on`: an SDK MeterProvider exported to Prometheus (`start_metrics_endpoint`, port OFFLOAD_BENCH_METRICS_PORT)
  and an SDK TracerProvider sampling every span into a batch processor with an exporter that drops
  them (the cost of recording and batching, without a collector's).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_server import server, tasks

__all__ = ["server", "tasks"]

if os.environ.get("OFFLOAD_BENCH_TELEMETRY") == "on":
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from offload.observe.prometheus import start_metrics_endpoint

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    start_metrics_endpoint(int(os.environ["OFFLOAD_BENCH_METRICS_PORT"]))
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)
