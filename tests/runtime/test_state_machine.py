"""The execution state machine in-process, on the memory store: no server, no sockets.

inline -> (promoted) working <-> input_required -> completed | failed | cancelled, driven through
`TaskRuntime` and `Execution` exactly as the server extension drives them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from offload.protocol import INPUT_TIMEOUT, TTL_EXPIRED, TaskStatus
from offload.runtime import Execution, TaskDispatch, TaskPolicy, TaskRuntime
from offload.store import MemoryStore, TaskRecord, now_ms

pytestmark = pytest.mark.anyio

OPTIONAL = TaskPolicy(mode="optional")
TEXT = {"content": [{"type": "text", "text": "done"}]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def running(**options: Any) -> AsyncIterator[tuple[TaskRuntime, MemoryStore]]:
    store = MemoryStore()
    runtime = TaskRuntime(store, sweep_interval_s=options.pop("sweep_interval_s", 60), **options)
    async with runtime.running():
        yield runtime, store


async def until(store: MemoryStore, task_id: str, *statuses: str) -> TaskRecord:
    with anyio.fail_after(10):
        while True:
            record = await store.get(task_id)
            if record is not None and record.status in statuses:
                return record
            await anyio.sleep(0.005)


async def started(runtime: TaskRuntime, tool: Any, policy: TaskPolicy = OPTIONAL) -> Execution:
    ex = runtime.start(tool, tool="t", policy=policy)
    await ex.promote()
    return ex


# -- promotion --


async def test_a_tool_that_settles_at_once_is_never_stored() -> None:
    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        return TEXT

    async with running() as (runtime, store):
        ex = runtime.start(tool, tool="t", policy=OPTIONAL)
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
        assert ex.settled and ex.outcome == ("result", TEXT)
        assert not ex.promoted
        assert await store.get(ex.task_id) is None
        assert ex.task_id not in runtime.executions  # forgotten once it ended


async def test_promotion_stores_a_working_task_then_its_result() -> None:
    gate = anyio.Event()

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await gate.wait()
        return TEXT

    async with running() as (runtime, store):
        ex = runtime.start(tool, tool="t", policy=OPTIONAL)
        created = await ex.promote()
        assert created.status == TaskStatus.WORKING
        assert (await store.get(ex.task_id)) is not None  # durable before the handle goes out
        gate.set()
        done = await until(store, ex.task_id, "completed")
        assert done.result == TEXT


async def test_progress_becomes_the_status_message() -> None:
    step = anyio.Event()
    finish = anyio.Event()

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await dispatch.progress(2, 5, "compiling")
        step.set()
        await finish.wait()
        await dispatch.progress(5, 5)
        return TEXT

    async with running() as (runtime, store):
        ex = await started(runtime, tool)
        await step.wait()
        with anyio.fail_after(5):
            while (await store.get(ex.task_id)).status_message != "compiling":  # type: ignore[union-attr]
                await anyio.sleep(0.005)
        finish.set()
        done = await until(store, ex.task_id, "completed")
        assert done.status_message == "5/5"


# -- input --


async def test_input_parks_the_task_and_an_answer_resumes_it() -> None:
    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        reply = await dispatch.send_raw_request("elicitation/create", {"message": "Ship?", "requestedSchema": {}})
        return {"content": [{"type": "text", "text": str(reply["action"])}]}

    async with running() as (runtime, store):
        ex = await started(runtime, tool)
        parked = await until(store, ex.task_id, "input_required")
        [(key, request)] = parked.input_requests.items()
        assert request == {"method": "elicitation/create", "params": {"message": "Ship?", "requestedSchema": {}}}
        assert key == "elicitation-1"
        await runtime.answer(parked, {"unknown-key": {"action": "decline"}})  # ignored
        assert (await store.get(ex.task_id)).status == "input_required"  # type: ignore[union-attr]
        await runtime.answer(parked, {key: {"action": "accept"}})
        done = await until(store, ex.task_id, "completed")
        assert done.result == {"content": [{"type": "text", "text": "accept"}]}
        assert done.input_requests == {}


async def test_two_open_requests_are_answered_one_at_a_time() -> None:
    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        async with anyio.create_task_group() as tg:
            answers: list[Any] = []

            async def ask(message: str) -> None:
                answers.append((await dispatch.send_raw_request("elicitation/create", {"message": message}))["n"])

            tg.start_soon(ask, "a")
            tg.start_soon(ask, "b")
        return {"content": [{"type": "text", "text": str(sorted(answers))}]}

    async with running() as (runtime, store):
        ex = await started(runtime, tool)
        with anyio.fail_after(5):
            while len((parked := await until(store, ex.task_id, "input_required")).input_requests) < 2:
                await anyio.sleep(0.005)
        first, second = parked.input_requests
        await runtime.answer(parked, {first: {"n": 1}})
        still = await store.get(ex.task_id)
        assert still is not None and list(still.input_requests) == [second]
        assert still.status == "input_required"
        await runtime.answer(still, {second: {"n": 2}})
        done = await until(store, ex.task_id, "completed")
        assert done.result == {"content": [{"type": "text", "text": "[1, 2]"}]}


async def test_an_unanswered_request_fails_the_task_with_the_input_timeout_code() -> None:
    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await dispatch.send_raw_request("elicitation/create", {"message": "anyone?"})
        return TEXT

    async with running() as (runtime, store):
        ex = await started(runtime, tool, TaskPolicy(mode="optional", input_timeout_s=0.05))
        failed = await until(store, ex.task_id, "failed")
        assert failed.error is not None and failed.error["code"] == INPUT_TIMEOUT
        assert "gave up waiting" in (failed.status_message or "")
        assert failed.input_requests == {}


# -- cancellation --


async def test_cancel_stops_the_tool_and_its_cleanup_runs() -> None:
    cleaned = anyio.Event()
    entered = anyio.Event()

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        try:
            entered.set()
            await anyio.sleep_forever()
        finally:
            cleaned.set()
        return TEXT  # pragma: no cover

    async with running() as (runtime, store):
        ex = await started(runtime, tool)
        await entered.wait()
        await runtime.cancel(await store.get(ex.task_id))  # type: ignore[arg-type]
        done = await until(store, ex.task_id, "cancelled")
        assert cleaned.is_set()
        assert done.status_message == "Cancelled at the client's request"


async def test_cancel_of_a_parked_task_clears_its_requests() -> None:
    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await dispatch.send_raw_request("elicitation/create", {"message": "?"})
        return TEXT

    async with running() as (runtime, store):
        ex = await started(runtime, tool)
        parked = await until(store, ex.task_id, "input_required")
        await runtime.cancel(parked)
        done = await until(store, ex.task_id, "cancelled")
        assert done.input_requests == {}


async def test_a_finished_task_keeps_its_status_when_cancelled() -> None:
    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await anyio.sleep(0.01)
        return TEXT

    async with running() as (runtime, store):
        ex = await started(runtime, tool)
        done = await until(store, ex.task_id, "completed")
        await runtime.cancel(done)
        await runtime.cancel(done)
        assert (await store.get(ex.task_id)).status == "completed"  # type: ignore[union-attr]


async def test_a_cancel_for_a_task_running_elsewhere_settles_it_in_the_store() -> None:
    async with running(instance_id="here") as (runtime, store):
        record = TaskRecord(task_id="elsewhere", tool="t", owner="another-instance")
        await store.create(record)
        events: list[str] = []
        store.subscribe(lambda e: events.append(e.kind))
        await runtime.cancel(record)
        done = await store.get("elsewhere")
        assert done is not None and done.status == "cancelled"
        assert "cancel" in events  # the owner is told to stop its tool


# -- outcomes the store cannot take as they are --


async def test_a_result_over_the_limit_fails_the_task_saying_why() -> None:
    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await anyio.sleep(0.01)
        return {"content": [{"type": "text", "text": "x" * 5000}]}

    async with running(max_result_bytes=1000, max_offloaded_bytes=1000) as (runtime, store):
        ex = await started(runtime, tool)
        failed = await until(store, ex.task_id, "failed")
        assert "over the store limit of 1000" in (failed.status_message or "")


async def test_an_mcp_error_from_the_tool_fails_the_task_with_that_error() -> None:
    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await anyio.sleep(0.01)
        raise MCPError(code=-32042, message="quota exceeded")

    async with running() as (runtime, store):
        ex = await started(runtime, tool)
        failed = await until(store, ex.task_id, "failed")
        assert failed.error == {"code": -32042, "message": "quota exceeded"}
        assert failed.result is None


# -- expiry --


async def test_a_running_task_whose_ttl_ran_out_is_stopped_by_the_sweep() -> None:
    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await anyio.sleep_forever()
        return TEXT  # pragma: no cover

    async with running(sweep_interval_s=0.02) as (runtime, store):
        ex = runtime.start(tool, tool="t", policy=TaskPolicy(mode="optional", ttl_ms=100))
        await ex.promote()
        failed = await until(store, ex.task_id, "failed")
        assert failed.error is not None and failed.error["code"] == TTL_EXPIRED
        assert "TTL (time to live, 100 ms) ran out" in (failed.status_message or "")
        assert failed.ttl_ms is not None and failed.ttl_ms > 100  # kept a while for the final status
        assert not failed.expired(now_ms())


def test_task_ids_never_read_as_a_command_line_option() -> None:
    from offload.runtime import new_task_id

    ids = [new_task_id() for _ in range(2000)]  # ~31 would start with '-' if drawn plainly
    assert all(len(i) == 43 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)
