"""Observability: OpenTelemetry metrics and traces for tasks, no-ops until an SDK is installed.

Layered between the store and the runtime: it imports `offload.store` and OpenTelemetry's API,
and the runtime and the servers call it (one hook per event, see `offload.observe.probe`).
`offload.observe.prometheus` turns the metrics on and serves them to Prometheus.
"""

from offload.observe.metrics import MAX_TOOLS, TaskMetrics, task_metrics, tool_attrs
from offload.observe.probe import TaskProbe, admission_refused, lease_takeover, task_created, task_finished
from offload.observe.store import InstrumentedStore, instrument_store
from offload.observe.tracing import creation_span, execution_span, input_wait_span, remember_trace, stored_context

__all__ = [
    "MAX_TOOLS",
    "InstrumentedStore",
    "TaskMetrics",
    "TaskProbe",
    "admission_refused",
    "creation_span",
    "execution_span",
    "input_wait_span",
    "instrument_store",
    "lease_takeover",
    "remember_trace",
    "stored_context",
    "task_created",
    "task_finished",
    "task_metrics",
    "tool_attrs",
]
