"""The hooks the runtime calls: one `TaskProbe` per execution, and a few module functions.

Each hook updates the metrics (offload.observe.metrics) and the spans (offload.observe.tracing)
together, so the runtime needs one line per event and knows nothing of OpenTelemetry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from offload.observe.metrics import task_metrics, tool_attrs
from offload.observe.tracing import ATTR_STATUS, ATTR_TASK_ID, execution_span, input_wait_span
from offload.store.record import TaskRecord

__all__ = ["TaskProbe", "admission_refused", "lease_takeover", "task_created", "task_finished"]

_status_attrs: dict[tuple[str, str], dict[str, str]] = {}


def _with_status(tool: str, status: str) -> dict[str, str]:
    base = tool_attrs(tool)
    key = (base["tool"], status)
    attrs = _status_attrs.get(key)
    if attrs is None:
        attrs = _status_attrs[key] = {**base, "status": status}
    return attrs


def task_created(record: TaskRecord) -> None:
    """A task was stored (promoted from an inline call, or queued for a worker)."""
    task_metrics().created.add(1, tool_attrs(record.tool))
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(ATTR_TASK_ID, record.task_id)
    if record.terminal:  # it finished while being stored
        task_finished(record)


def task_finished(record: TaskRecord) -> None:
    """This instance stored a terminal status for the task."""
    m = task_metrics()
    attrs = _with_status(record.tool, record.status)
    m.finished.add(1, attrs)
    m.duration.record(max(record.updated_ms - record.created_ms, 0) / 1000, attrs)
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(ATTR_STATUS, record.status)
        if record.status == "failed":
            span.set_status(trace.StatusCode.ERROR, (record.error or {}).get("message"))


def lease_takeover(record: TaskRecord) -> None:
    """This instance claimed a task whose previous instance's lease ran out."""
    task_metrics().takeovers.add(1, tool_attrs(record.tool))


_refusal_attrs: dict[str, dict[str, str]] = {}


def admission_refused(reason: str) -> None:
    """A task creation was turned away (too many running, store down...); `reason` is a fixed word."""
    attrs = _refusal_attrs.get(reason)
    if attrs is None:
        attrs = _refusal_attrs[reason] = {"reason": reason} if len(_refusal_attrs) < 20 else {"reason": "other"}
    task_metrics().refusals.add(1, attrs)


class TaskProbe:
    """What one execution (one attempt, on this instance) reports: in flight while it runs, parked
    while it waits for input, a span around the run and one around each input wait."""

    __slots__ = ("_attrs", "_parked", "attempt", "request", "task_id", "tool")

    def __init__(self, record: TaskRecord) -> None:
        self.task_id = record.task_id
        self.tool = record.tool
        self.attempt = record.attempts
        self.request = record.request
        self._attrs = tool_attrs(record.tool)
        self._parked = False

    @contextmanager
    def running(self) -> Iterator[None]:
        """Around the tool's run (Execution.run)."""
        m = task_metrics()
        m.in_flight.add(1, self._attrs)
        try:
            with execution_span(self.task_id, self.tool, self.attempt, self.request):
                yield
        finally:
            m.in_flight.add(-1, self._attrs)
            self.inputs(0)

    def inputs(self, waiting: int) -> None:
        """How many input requests are open now (Execution._sync_inputs): parked while any is."""
        parked = waiting > 0
        if parked != self._parked:
            self._parked = parked
            task_metrics().parked.add(1 if parked else -1, self._attrs)

    @contextmanager
    def input_wait(self, key: str, method: str) -> Iterator[None]:
        """Around the wait for one answer (Execution.ask)."""
        start = time.monotonic()
        try:
            with input_wait_span(self.task_id, self.tool, key, method):
                yield
        finally:
            task_metrics().input_wait.record(time.monotonic() - start, self._attrs)
