"""Replay, durable steps and parking, in-process on the memory store (runtime/replay.py).

Two `TaskRuntime`s on one store stand for two instances; the store's events reach both. Crashes
and restarts of real processes, on every store, are in tests/e2e/test_durable_approvals.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import pytest

from offload import step
from offload.runtime import Execution, TaskDispatch, TaskPolicy, TaskRuntime
from offload.runtime.replay import PARKED_OWNER
from offload.store import MemoryStore, TaskRecord, TaskStore

pytestmark = pytest.mark.anyio

QUESTION = {"message": "Deploy to production?", "requestedSchema": {"type": "object", "properties": {}}}
YES = {"action": "accept", "content": {}}
RESUMABLE = TaskPolicy(mode="optional", retry=True)
PARK_AT_ONCE = TaskPolicy(mode="optional", retry=True, park_after_s=0)

Tool = Callable[[TaskDispatch], Awaitable[Any]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Fleet:
    """Instances sharing one store, all running the same tools (as a deploy of one server would)."""

    def __init__(self, tools: dict[str, Tool], policy: TaskPolicy) -> None:
        self.store: TaskStore = MemoryStore()
        self.tools = tools
        self.policy = policy

    async def rerun(self, record: TaskRecord, dispatch: TaskDispatch) -> Any:
        return await self.tools[record.tool](dispatch)

    @asynccontextmanager
    async def instance(self, **options: Any) -> AsyncIterator[TaskRuntime]:
        runtime = TaskRuntime(
            self.store,
            policy_for=lambda _tool: self.policy,
            rerun=self.rerun,
            sweep_interval_s=options.pop("sweep_interval_s", 60),
            **options,
        )
        async with runtime.running():
            yield runtime

    async def start(self, runtime: TaskRuntime, tool: str) -> Execution:
        ex = runtime.start(self.tools[tool], tool=tool, policy=self.policy, request={"name": tool, "arguments": {}})
        await ex.promote()
        return ex


async def until(store: TaskStore, task_id: str, check: Callable[[TaskRecord], bool]) -> TaskRecord:
    with anyio.fail_after(10):
        while True:
            record = await store.get(task_id)
            if record is not None and check(record):
                return record
            await anyio.sleep(0.005)


def waiting(record: TaskRecord) -> bool:
    return record.status == "input_required"


def finished(record: TaskRecord) -> bool:
    return record.terminal


class Counter:
    """Counts side effects: what a step must do exactly once."""

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}

    def effect(self, name: str) -> Callable[[], str]:
        def run() -> str:
            self.runs[name] = self.runs.get(name, 0) + 1
            return f"{name} done"

        return run


def approval_tool(counter: Counter, entered: list[int] | None = None) -> Tool:
    """Build, then ask for approval, then deploy: the shape of the headline use."""

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        if entered is not None:
            entered.append(1)
        built = await step("build", counter.effect("build"))
        answer = await dispatch.send_raw_request("elicitation/create", QUESTION)
        deployed = await step("deploy", counter.effect("deploy"))
        return {"content": [{"type": "text", "text": f"{built}; {answer['action']}; {deployed}"}]}

    return tool


DONE = [{"type": "text", "text": "build done; accept; deploy done"}]


async def test_a_parked_task_holds_nothing_and_resumes_where_answered() -> None:
    counter, entered = Counter(), []
    fleet = Fleet({"deploy": approval_tool(counter, entered)}, PARK_AT_ONCE)
    async with fleet.instance() as a, fleet.instance() as b:
        ex = await fleet.start(a, "deploy")
        parked = await until(fleet.store, ex.task_id, lambda r: r.owner == PARKED_OWNER)
        assert parked.status == "input_required" and list(parked.input_requests) == ["elicitation-2"]
        with anyio.fail_after(5):
            while ex.task_id in a.executions:  # the coroutine is gone: nothing of it stays in memory
                await anyio.sleep(0.005)
        assert await fleet.store.journal(ex.task_id) == {"step-1": {"step": "build", "result": "build done"}}

        await b.answer(parked, {"elicitation-2": YES})  # answered on the other instance
        done = await until(fleet.store, ex.task_id, finished)
    assert done.status == "completed" and done.result is not None and done.result["content"] == DONE
    assert counter.runs == {"build": 1, "deploy": 1}  # the replay returned the build's stored result
    assert len(entered) == 2  # code outside steps ran again, as documented
    assert done.attempts == 1  # resuming is not a retry
    journal = await fleet.store.journal(ex.task_id)
    assert journal["elicitation-2"] == {"method": "elicitation/create", "params": QUESTION, "answer": YES}


async def test_an_answer_reaching_the_instance_that_parked_it_resumes_it_there() -> None:
    counter = Counter()
    fleet = Fleet({"deploy": approval_tool(counter)}, PARK_AT_ONCE)
    async with fleet.instance() as a:
        ex = await fleet.start(a, "deploy")
        parked = await until(fleet.store, ex.task_id, lambda r: r.owner == PARKED_OWNER)
        await a.answer(parked, {"elicitation-2": YES})
        done = await until(fleet.store, ex.task_id, finished)
    assert done.status == "completed" and counter.runs == {"build": 1, "deploy": 1}


async def test_without_park_after_the_task_stays_in_memory_and_answers_go_straight_in() -> None:
    counter = Counter()
    fleet = Fleet({"deploy": approval_tool(counter)}, RESUMABLE)
    async with fleet.instance() as a:
        ex = await fleet.start(a, "deploy")
        record = await until(fleet.store, ex.task_id, waiting)
        await anyio.sleep(0.05)
        assert (await fleet.store.get(ex.task_id)).owner == a.instance_id  # type: ignore[union-attr]
        await a.answer(record, {"elicitation-2": YES})
        done = await until(fleet.store, ex.task_id, finished)
        assert done.status == "completed"
        # Answered in memory, yet recorded all the same, and nothing left waiting for an owner.
        assert "answer" in (await fleet.store.journal(ex.task_id))["elicitation-2"]
        assert await fleet.store.take_answers(ex.task_id) == {}


async def test_a_clean_shutdown_parks_waiting_retry_safe_tasks_without_spending_an_attempt() -> None:
    counter = Counter()
    fleet = Fleet({"deploy": approval_tool(counter)}, RESUMABLE)
    async with fleet.instance() as b:
        async with fleet.instance() as a:
            ex = await fleet.start(a, "deploy")
            record = await until(fleet.store, ex.task_id, waiting)
        parked = await fleet.store.get(ex.task_id)
        assert parked is not None and parked.owner == PARKED_OWNER and parked.attempts == 1
        await b.answer(parked, {"elicitation-2": YES})
        done = await until(fleet.store, ex.task_id, finished)
    assert record.input_requests.keys() == {"elicitation-2"}
    assert done.status == "completed" and done.attempts == 1
    assert counter.runs == {"build": 1, "deploy": 1}


async def test_a_takeover_replays_and_keeps_the_open_key_answerable_throughout() -> None:
    counter = Counter()
    fleet = Fleet({"deploy": approval_tool(counter)}, RESUMABLE)
    async with fleet.instance() as a, fleet.instance() as b:
        ex = await fleet.start(a, "deploy")
        await until(fleet.store, ex.task_id, waiting)
        await fleet.store.release(a.instance_id)  # A is taken for dead (as after kill -9)
        await b.sweep()  # B claims the task and runs it again by replay
        taken = await until(fleet.store, ex.task_id, lambda r: r.owner == b.instance_id and waiting(r))
        assert list(taken.input_requests) == ["elicitation-2"]  # the key the client saw first
        await b.answer(taken, {"elicitation-2": YES})
        done = await until(fleet.store, ex.task_id, finished)
    assert done.status == "completed" and done.attempts == 2
    assert counter.runs == {"build": 1, "deploy": 1}


async def test_an_answer_given_while_no_instance_runs_the_task_is_kept_for_the_replay() -> None:
    counter = Counter()
    fleet = Fleet({"deploy": approval_tool(counter)}, RESUMABLE)
    async with fleet.instance() as a:
        ex = await fleet.start(a, "deploy")
        await until(fleet.store, ex.task_id, waiting)
        await fleet.store.release(a.instance_id)
        # Between the crash and the takeover: the store takes the answer for whoever runs it next.
        assert await fleet.store.answer(ex.task_id, {"elicitation-2": YES}) == {"elicitation-2": YES}
        async with fleet.instance() as b:
            await b.sweep()
            done = await until(fleet.store, ex.task_id, finished)
    assert done.status == "completed" and counter.runs == {"build": 1, "deploy": 1}


async def test_answers_left_for_a_parked_task_are_found_by_the_sweeper() -> None:
    counter = Counter()
    fleet = Fleet({"deploy": approval_tool(counter)}, PARK_AT_ONCE)
    async with fleet.instance() as a:
        ex = await fleet.start(a, "deploy")
        await until(fleet.store, ex.task_id, lambda r: r.owner == PARKED_OWNER)
        await fleet.store.answer(ex.task_id, {"elicitation-2": YES})  # no instance was told
        assert (await fleet.store.get(ex.task_id)).status == "working"  # type: ignore[union-attr]
        await a.sweep()
        done = await until(fleet.store, ex.task_id, finished)
    assert done.status == "completed"


async def test_a_tool_that_asks_something_else_on_replay_fails_saying_so() -> None:
    counter, runs = Counter(), []

    async def fickle(dispatch: TaskDispatch) -> dict[str, Any]:
        runs.append(1)
        await step("build" if len(runs) == 1 else "compile", counter.effect("build"))
        await dispatch.send_raw_request("elicitation/create", QUESTION)
        return {"content": []}

    fleet = Fleet({"fickle": fickle}, PARK_AT_ONCE)
    async with fleet.instance() as a:
        ex = await fleet.start(a, "fickle")
        parked = await until(fleet.store, ex.task_id, lambda r: r.owner == PARKED_OWNER)
        await a.answer(parked, {"elicitation-2": YES})
        done = await until(fleet.store, ex.task_id, finished)
    assert done.status == "failed" and done.error is not None
    assert "not deterministic" in done.error["message"] and "'compile'" in done.error["message"]
    assert counter.runs == {"build": 1}


async def test_other_question_parameters_on_replay_are_a_divergence_too() -> None:
    asked: list[str] = []

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        message = "first" if not asked else "second"
        asked.append(message)
        await dispatch.send_raw_request("elicitation/create", {**QUESTION, "message": message})
        return {"content": []}

    fleet = Fleet({"t": tool}, PARK_AT_ONCE)
    async with fleet.instance() as a:
        ex = await fleet.start(a, "t")
        parked = await until(fleet.store, ex.task_id, lambda r: r.owner == PARKED_OWNER)
        await a.answer(parked, {"elicitation-1": YES})
        done = await until(fleet.store, ex.task_id, finished)
    assert done.status == "failed" and "other parameters" in (done.status_message or "")


async def test_a_step_result_that_is_not_json_reaches_the_tool_as_an_error() -> None:
    seen: list[str] = []

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        try:
            await step("when", lambda: object())
        except TypeError as exc:
            seen.append(str(exc))
        return {"content": []}

    fleet = Fleet({"t": tool}, RESUMABLE)
    async with fleet.instance() as a:
        ex = await fleet.start(a, "t")
        done = await until(fleet.store, ex.task_id, finished)
    assert done.status == "completed"
    assert seen and "step 'when'" in seen[0] and "JSON" in seen[0]


async def test_steps_and_questions_share_one_sequence_of_keys() -> None:
    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await step("a", lambda: 1)
        await dispatch.send_raw_request("sampling/createMessage", {"messages": [], "maxTokens": 5})
        await step("b", lambda: [2, "two"])
        return {"content": []}

    fleet = Fleet({"t": tool}, RESUMABLE)
    async with fleet.instance() as a:
        ex = await fleet.start(a, "t")
        record = await until(fleet.store, ex.task_id, waiting)
        assert list(record.input_requests) == ["sampling-2"]
        await a.answer(record, {"sampling-2": {"role": "assistant", "content": {"type": "text", "text": "ok"}}})
        await until(fleet.store, ex.task_id, finished)
        journal = await fleet.store.journal(ex.task_id)
    assert sorted(journal) == ["sampling-2", "step-1", "step-3"]
    assert journal["step-3"] == {"step": "b", "result": [2, "two"]}


async def test_a_step_outside_any_task_just_runs() -> None:
    assert await step("plain", lambda x: x + 1, 41) == 42


async def test_steps_run_before_promotion_are_journaled_when_the_task_is_stored() -> None:
    gate = anyio.Event()

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await step("early", lambda: "e")
        await gate.wait()
        return {"content": []}

    fleet = Fleet({"t": tool}, RESUMABLE)
    async with fleet.instance() as a:
        ex = a.start(tool, tool="t", policy=RESUMABLE, request={"name": "t", "arguments": {}})
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        await ex.promote()
        assert await fleet.store.journal(ex.task_id) == {"step-1": {"step": "early", "result": "e"}}
        gate.set()
        await until(fleet.store, ex.task_id, finished)


async def test_tools_that_are_not_retry_safe_never_park() -> None:
    counter = Counter()
    fleet = Fleet({"deploy": approval_tool(counter)}, TaskPolicy(mode="optional", park_after_s=0))
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(fleet.instance())
        ex = await fleet.start(a, "deploy")
        await until(fleet.store, ex.task_id, waiting)
        await anyio.sleep(0.05)
        assert (await fleet.store.get(ex.task_id)).owner == a.instance_id  # type: ignore[union-attr]
        assert ex.task_id in a.executions


async def test_a_front_instance_hands_a_parked_tasks_answer_to_a_worker() -> None:
    counter = Counter()
    fleet = Fleet({"deploy": approval_tool(counter)}, PARK_AT_ONCE)
    async with fleet.instance(role="worker") as worker, fleet.instance(role="front") as front:
        ex = await fleet.start(worker, "deploy")
        parked = await until(fleet.store, ex.task_id, lambda r: r.owner == PARKED_OWNER)
        await front.answer(parked, {"elicitation-2": YES})  # the front runs nothing: a worker resumes it
        done = await until(fleet.store, ex.task_id, finished)
    assert done.status == "completed" and counter.runs == {"build": 1, "deploy": 1}
    journal = await fleet.store.journal(ex.task_id)
    assert journal["step-3"]["step"] == "deploy"


async def test_a_parked_task_can_be_cancelled_and_stays_cancelled() -> None:
    counter = Counter()
    fleet = Fleet({"deploy": approval_tool(counter)}, PARK_AT_ONCE)
    async with fleet.instance() as a:
        ex = await fleet.start(a, "deploy")
        parked = await until(fleet.store, ex.task_id, lambda r: r.owner == PARKED_OWNER)
        await a.cancel(parked)
        await a.answer(parked, {"elicitation-2": YES})  # too late: nothing resumes a cancelled task
        await a.sweep()
        record = await fleet.store.get(ex.task_id)
    assert record is not None and record.status == "cancelled" and not record.input_requests
    assert counter.runs == {"build": 1}


async def test_answers_announced_while_a_run_is_being_parked_resume_the_task() -> None:
    """The race: another instance answers after the park was stored but announces it to the old owner."""
    from offload.store import TaskEvent

    counter = Counter()
    fleet = Fleet({"deploy": approval_tool(counter)}, RESUMABLE)
    async with fleet.instance() as a:
        ex = await fleet.start(a, "deploy")
        await until(fleet.store, ex.task_id, waiting)
        ex.parking = True  # frozen mid-park: the owner is already "(parked)", the run not yet gone
        assert await fleet.store.update(ex.task_id, {"owner": PARKED_OWNER}, owner=a.instance_id) is not None
        await fleet.store.answer(ex.task_id, {"elicitation-2": YES})  # held for "the owner"
        fleet.store._deliver(TaskEvent("answer", ex.task_id, "another-instance"))
        done = await until(fleet.store, ex.task_id, finished)
    assert done.status == "completed" and counter.runs == {"build": 1, "deploy": 1}
