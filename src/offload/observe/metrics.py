"""Task metrics through the OpenTelemetry API: no-ops until a MeterProvider is installed.

Every instrument is created once, on the global meter, when this module is first used; the API's
proxy instruments start recording when an SDK MeterProvider is set (for instance by
`offload.observe.prometheus.start_metrics_endpoint`), so a server without one pays a few no-op
calls per task. Attributes are low-cardinality by design: the tool name (at most `MAX_TOOLS`
distinct names, then `_other`), the final status, the store operation and backend, a refusal
reason. Task ids, principals and arguments never become attributes.
"""

from __future__ import annotations

from typing import Final

from opentelemetry import metrics

__all__ = ["MAX_TOOLS", "OTHER_TOOL", "TaskMetrics", "task_metrics", "tool_attrs"]

#: Distinct tool names kept as attribute values; later ones share `OTHER_TOOL`.
MAX_TOOLS: Final = 200
OTHER_TOOL: Final = "_other"

# Bucket advice (seconds). Tasks run from a fraction of a second to hours; store calls take
# microseconds to tens of milliseconds.
TASK_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 10800, 86400)
STORE_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

_tool_attrs: dict[str, dict[str, str]] = {}
_other: Final = {"tool": OTHER_TOOL}


def tool_attrs(tool: str) -> dict[str, str]:
    """`{"tool": name}`, one shared dict per name (no allocation per call), bounded to MAX_TOOLS names."""
    attrs = _tool_attrs.get(tool)
    if attrs is None:
        if len(_tool_attrs) >= MAX_TOOLS:
            return _other
        attrs = _tool_attrs[tool] = {"tool": tool}
    return attrs


class TaskMetrics:
    """The instruments. Names follow OpenTelemetry conventions; the Prometheus exporter turns
    `offload.tasks.created` into `offload_tasks_created_total`, `offload.task.duration` (unit s)
    into `offload_task_duration_seconds`."""

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        m = meter or metrics.get_meter("offload")

        def seconds(name: str, description: str, buckets: tuple[float, ...]) -> metrics.Histogram:
            """A duration histogram: unit s, and the bucket boundaries its range wants."""
            return m.create_histogram(name, "s", description, explicit_bucket_boundaries_advisory=buckets)

        self.created = m.create_counter("offload.tasks.created", "{task}", "Tasks stored, per tool")
        self.finished = m.create_counter(
            "offload.tasks.finished", "{task}", "Tasks that reached a terminal status here, per tool and status"
        )
        self.duration = seconds(
            "offload.task.duration", "From creation to the terminal status, per tool and status", TASK_BUCKETS
        )
        self.in_flight = m.create_up_down_counter(
            "offload.tasks.in_flight", "{task}", "Tasks whose tool is running on this instance, per tool"
        )
        self.parked = m.create_up_down_counter(
            "offload.tasks.parked", "{task}", "Tasks here waiting for input (input_required), per tool"
        )
        self.input_wait = seconds("offload.input.wait", "From an input request to its answer, per tool", TASK_BUCKETS)
        self.takeovers = m.create_counter(
            "offload.lease.takeovers", "{task}", "Tasks taken over after their instance's lease ran out, per tool"
        )
        self.store_duration = seconds(
            "offload.store.duration", "Task store calls, per operation and backend", STORE_BUCKETS
        )
        self.store_errors = m.create_counter(
            "offload.store.errors", "{error}", "Task store calls that raised, per operation and backend"
        )
        self.refusals = m.create_counter(
            "offload.admission.refusals", "{request}", "Task creations refused (server busy), per reason"
        )


_metrics: TaskMetrics | None = None


def task_metrics() -> TaskMetrics:
    """The process's instruments, created on first use."""
    global _metrics
    if _metrics is None:
        _metrics = TaskMetrics()
    return _metrics
