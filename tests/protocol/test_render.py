"""`detailed_task()`: the DetailedTask shape tasks/get and notifications/tasks carry."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from offload.protocol import LIVE, TERMINAL, detailed_task, iso_ms
from offload.store import TaskRecord

STATUSES = LIVE | TERMINAL

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
BASE_KEYS = {"taskId", "status", "createdAt", "lastUpdatedAt", "ttlMs"}
REQUESTS = {"elicitation-1.1": {"method": "elicitation/create", "params": {"message": "Name?"}}}
RESULT = {"content": [{"type": "text", "text": "done"}], "structuredContent": {"n": 3}}
ERROR = {"code": -32603, "message": "boom", "data": {"why": "x"}}


def record(status: str, **fields: Any) -> TaskRecord:
    """A record carrying every optional payload, so the shape shows what wire() leaves out."""
    base: dict[str, Any] = {
        "created_ms": 1_700_000_000_123,
        "updated_ms": 1_700_000_005_007,
        "ttl_ms": 60_000,
        "result": dict(RESULT),
        "error": dict(ERROR),
        "input_requests": dict(REQUESTS),
        "principal": "user:alice",
        "owner": "instance-a",
        "request": {"name": "t", "arguments": {}},
    }
    base.update(fields)
    return TaskRecord(task_id="task-1", tool="t", status=status, **base)


def test_working_has_no_result_error_or_input_requests() -> None:
    wire = detailed_task(record("working"))
    assert set(wire) == BASE_KEYS
    assert wire["taskId"] == "task-1"
    assert wire["status"] == "working"


def test_input_required_carries_input_requests() -> None:
    wire = detailed_task(record("input_required"))
    assert set(wire) == BASE_KEYS | {"inputRequests"}
    assert wire["inputRequests"] == REQUESTS


def test_input_required_with_no_outstanding_requests_still_has_the_key() -> None:
    wire = detailed_task(record("input_required", input_requests={}))
    assert wire["inputRequests"] == {}


def test_input_requests_are_a_copy() -> None:
    rec = record("input_required")
    wire = detailed_task(rec)
    wire["inputRequests"]["injected"] = {}
    assert "injected" not in rec.input_requests


def test_completed_carries_result() -> None:
    wire = detailed_task(record("completed"))
    assert set(wire) == BASE_KEYS | {"result"}
    assert wire["result"] == RESULT


def test_completed_without_a_stored_result_has_an_empty_result() -> None:
    wire = detailed_task(record("completed", result=None))
    assert wire["result"] == {}


def test_failed_carries_error() -> None:
    wire = detailed_task(record("failed"))
    assert set(wire) == BASE_KEYS | {"error"}
    assert wire["error"] == ERROR


def test_failed_without_a_stored_error_has_an_internal_error() -> None:
    wire = detailed_task(record("failed", error=None))
    assert wire["error"]["code"] == -32603
    assert isinstance(wire["error"]["message"], str) and wire["error"]["message"]


def test_cancelled_has_no_payload() -> None:
    wire = detailed_task(record("cancelled"))
    assert set(wire) == BASE_KEYS


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_common_fields_for_every_status(status: str) -> None:
    rec = record(status, status_message="hello", poll_interval_ms=2500)
    wire = detailed_task(rec)
    assert wire["status"] == status
    assert wire["taskId"] == "task-1"
    assert ISO_MS.match(wire["createdAt"]), wire["createdAt"]
    assert ISO_MS.match(wire["lastUpdatedAt"]), wire["lastUpdatedAt"]
    assert wire["createdAt"] == "2023-11-14T22:13:20.123Z"
    assert wire["lastUpdatedAt"] == "2023-11-14T22:13:25.007Z"
    assert wire["ttlMs"] == 60_000
    assert wire["pollIntervalMs"] == 2500
    assert wire["statusMessage"] == "hello"
    # internal bookkeeping never leaks onto the wire
    for key in ("principal", "owner", "lease_ms", "leaseMs", "attempts", "request", "tool"):
        assert key not in wire
    assert ("result" in wire) == (status == "completed")
    assert ("error" in wire) == (status == "failed")
    assert ("inputRequests" in wire) == (status == "input_required")
    if status in TERMINAL:
        assert "inputRequests" not in wire
    json.dumps(wire)  # plain JSON


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_ttl_ms_is_always_present_even_when_unlimited(status: str) -> None:
    wire = detailed_task(record(status, ttl_ms=None))
    assert "ttlMs" in wire
    assert wire["ttlMs"] is None
    assert json.loads(json.dumps(wire))["ttlMs"] is None


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_optional_fields_omitted_when_none(status: str) -> None:
    wire = detailed_task(record(status, poll_interval_ms=None, status_message=None))
    assert "pollIntervalMs" not in wire
    assert "statusMessage" not in wire


def test_poll_interval_zero_is_kept() -> None:
    assert detailed_task(record("working", poll_interval_ms=0))["pollIntervalMs"] == 0


def test_last_updated_defaults_to_created() -> None:
    rec = TaskRecord(task_id="t", tool="x", created_ms=1_700_000_000_500)
    wire = detailed_task(rec)
    assert wire["createdAt"] == wire["lastUpdatedAt"] == "2023-11-14T22:13:20.500Z"


@pytest.mark.parametrize(
    ("epoch_ms", "expected"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (999, "1970-01-01T00:00:00.999Z"),
        (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
        (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
        (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
    ],
)
def test_iso_ms(epoch_ms: int, expected: str) -> None:
    assert iso_ms(epoch_ms) == expected
    assert ISO_MS.match(iso_ms(epoch_ms))
