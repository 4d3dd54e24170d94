"""Metrics and traces from real `offload serve` processes: a Prometheus scrape after tasks completed,
waited for input and were cancelled; one trace per task joined to the caller's `traceparent`; and a
takeover on another instance, counted and joined to the same trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import Client, ServerProcess, elicit_accept, free_port, meta, parse_body, wait_until

OPS_SERVER = str(Path(__file__).parent / "ops_server.py")
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


def start_traced(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    """tools/call with W3C trace context in `_meta`, as an instrumented MCP client sends it."""
    params = {"name": tool, "arguments": arguments, "_meta": {**meta(), "traceparent": TRACEPARENT}}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    (reply,) = parse_body(client.post(body, client.headers("tools/call", tool)))
    assert reply["result"]["resultType"] == "task", reply
    return str(reply["result"]["taskId"])


def scrape(port: int) -> dict[str, float]:
    """`name{labels}` -> value, from the Prometheus text format."""
    out: dict[str, float] = {}
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text.splitlines():
        if line.startswith("offload_"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class Instance:
    def __init__(self, tmp: Path, name: str, store: str, marks: Path, **env: str) -> None:
        self.metrics_port = free_port()
        self.spans = tmp / f"{name}.spans"
        self.server = ServerProcess(
            OPS_SERVER,
            tmp / "x.db",
            tmp / f"{name}.log",
            store=store,
            env={
                "OPS_MARKS": str(marks),
                "OPS_METRICS_PORT": str(self.metrics_port),
                "OPS_SPANS": str(self.spans),
                **env,
            },
        )
        self.client = Client(self.server.url)

    def stop(self) -> None:
        self.client.close()
        self.server.stop()


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    path = tmp_path / "marks"
    path.mkdir()
    return path


def test_metrics_and_one_trace_per_task(tmp_path: Path, marks: Path) -> None:
    one = Instance(tmp_path, "one", "sqlite:///tasks.db", marks)
    try:
        c = one.client
        done = start_traced(c, "echo", {"text": "hi"})
        c.wait_for(done)
        asked = c.start_task("ask", {"question": "Proceed?"})
        task = c.wait_for(asked, ("input_required",))
        (key,) = task["inputRequests"]
        m = scrape(one.metrics_port)
        assert m['offload_tasks_parked{tool="ask"}'] == 1
        c.update(asked, {key: elicit_accept(ok=True)})
        c.wait_for(asked)
        held = c.start_task("hold", {"tag": "h"})
        wait_until(lambda: (marks / "h.started").exists(), what="hold to start")
        assert scrape(one.metrics_port)['offload_tasks_in_flight{tool="hold"}'] == 1
        c.cancel(held)
        c.wait_for(held)
        wait_until(lambda: (marks / "h.stopped").exists(), what="hold to stop")

        def settled() -> dict[str, float] | None:
            got = scrape(one.metrics_port)
            return got if got.get('offload_tasks_in_flight{tool="hold"}') == 0 else None

        m = wait_until(settled, what="the in-flight gauge to drop")
        for tool in ("echo", "ask", "hold"):
            assert m[f'offload_tasks_created_total{{tool="{tool}"}}'] == 1
        assert m['offload_tasks_finished_total{status="completed",tool="echo"}'] == 1
        assert m['offload_tasks_finished_total{status="completed",tool="ask"}'] == 1
        assert m['offload_tasks_finished_total{status="cancelled",tool="hold"}'] == 1
        assert m['offload_task_duration_seconds_count{status="completed",tool="echo"}'] == 1
        assert m['offload_tasks_parked{tool="ask"}'] == 0
        assert m['offload_input_wait_seconds_count{tool="ask"}'] == 1
        assert m['offload_store_duration_seconds_count{backend="sqlite",op="create"}'] == 3
        assert m['offload_store_duration_seconds_count{backend="sqlite",op="get"}'] >= 4  # tasks/get polls
        assert not [k for k in m if k.startswith("offload_store_errors")]
        assert not [k for k in m if "task_id" in k or "principal" in k]  # low cardinality by design
    finally:
        one.stop()

    found = spans(one.spans)
    by_task: dict[str, list[dict[str, Any]]] = {}
    for s in found:
        tid = (s.get("attributes") or {}).get("offload.task.id")
        if tid:
            by_task.setdefault(tid, []).append(s)
    create = next(s for s in by_task[done] if s["name"] == "offload.task.create")
    execute = next(s for s in by_task[done] if s["name"] == "offload.task.execute")
    assert create["context"]["trace_id"] == "0x" + CALLER_TRACE and create["parent_id"] == "0x" + CALLER_SPAN
    assert execute["context"]["trace_id"] == "0x" + CALLER_TRACE
    assert execute["parent_id"] == create["context"]["span_id"]
    # the status lands on the span current when it is stored: the attempt's, or the creation's when
    # the tool finished before the task was stored
    assert "completed" in {s["attributes"].get("offload.task.status") for s in (create, execute)}
    wait = next(s for s in by_task[asked] if s["name"] == "offload.task.input_wait")
    run = next(s for s in by_task[asked] if s["name"] == "offload.task.execute")
    assert wait["parent_id"] == run["context"]["span_id"] and wait["attributes"]["offload.input.key"] == key
    held_run = next(s for s in by_task[held] if s["name"] == "offload.task.execute")
    assert held_run["attributes"]["offload.task.status"] == "cancelled"


def test_takeover_is_counted_and_joins_the_tasks_trace(tmp_path: Path, marks: Path) -> None:
    store = "sqlite:///tasks.db"
    first = Instance(tmp_path, "first", store, marks, OPS_AGAIN_S="30")
    second = Instance(tmp_path, "second", store, marks, OPS_AGAIN_S="0.2")
    try:
        task_id = start_traced(first.client, "again", {"tag": "t"})
        wait_until(lambda: (marks / f"t.{first.server.proc.pid}").exists(), what="the first attempt")
        first.server.kill()  # the lease runs out; the other instance takes the task over and runs it again
        task = second.client.wait_for(task_id)
        assert task["status"] == "completed"
        m = scrape(second.metrics_port)
        assert m['offload_lease_takeovers_total{tool="again"}'] == 1
        assert m['offload_tasks_finished_total{status="completed",tool="again"}'] == 1
    finally:
        first.client.close()
        second.stop()
    # the creation span ended with the request, before the first instance died
    (created,) = [s for s in spans(first.spans) if s["name"] == "offload.task.create"]
    (retry,) = [s for s in spans(second.spans) if s["name"] == "offload.task.execute"]
    assert retry["context"]["trace_id"] == created["context"]["trace_id"] == "0x" + CALLER_TRACE
    assert retry["parent_id"] == created["context"]["span_id"]  # from the context stored with the task
    assert [link["context"]["span_id"] for link in retry["links"]] == [created["context"]["span_id"]]
    assert retry["attributes"]["offload.task.attempt"] == 2
    assert retry["attributes"]["offload.task.status"] == "completed"
