"""The store contract, part four: each task's journal, what a replay reads back after a crash.

`answer` records every key it takes, in the same atomic step, as the request that was outstanding
plus its answer; `record` puts a step's entry, only for the live task's owner. Neither is a visible
change of the task, the journal goes with its task, and racing writers record each key once.
"""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest

from offload.store import StoreEncodingError, TaskStore
from store_samples import T0, asking, make

#: What `asking()` tasks ask, by key.
ASKED = asking().input_requests
#: An answer whose numbers and text a backend could mangle (re-encoding floats, big integers, escapes).
ANSWER = {"action": "accept", "content": {"name": "Ada ✓", "n": 2**60 + 1, "x": 0.1, "q": 'say "hi"\n', "l": [None]}}


def entry(key: str, answer: Any) -> dict[str, Any]:
    return {**ASKED[key], "answer": answer}


class JournalContract:
    @pytest.mark.anyio
    async def test_the_journal_is_empty_for_a_new_or_unknown_task(self, store: TaskStore) -> None:
        record = asking(owner="me")
        await store.create(record)
        assert await store.journal(record.task_id) == {}
        assert await store.journal("no-such-task") == {}

    @pytest.mark.anyio
    async def test_answer_records_the_request_and_its_answer_for_the_keys_it_takes(self, store: TaskStore) -> None:
        record = asking(owner="me")
        await store.create(record)
        taken = await store.answer(record.task_id, {"elicitation-1.1": ANSWER, "not-asked": {"x": 1}})
        assert taken == {"elicitation-1.1": ANSWER}
        assert await store.journal(record.task_id) == {"elicitation-1.1": entry("elicitation-1.1", ANSWER)}
        # a key already answered is neither taken nor recorded again: the first answer stands
        assert await store.answer(record.task_id, {"elicitation-1.1": {"late": True}}) == {}
        await store.answer(record.task_id, {"elicitation-1.2": 2, "sampling-1.3": {"role": "assistant"}})
        assert await store.journal(record.task_id) == {
            "elicitation-1.1": entry("elicitation-1.1", ANSWER),
            "elicitation-1.2": entry("elicitation-1.2", 2),
            "sampling-1.3": entry("sampling-1.3", {"role": "assistant"}),
        }

    @pytest.mark.anyio
    async def test_a_request_that_is_not_an_object_records_its_answer_alone(self, store: TaskStore) -> None:
        requests = {"text": "just text", "empty": {}, "list": [{"method": "x"}], "answered": {"answer": "asked"}}
        record = make(owner="me", status="input_required", input_requests=requests)
        await store.create(record)
        await store.answer(record.task_id, {key: i for i, key in enumerate(requests)})
        assert await store.journal(record.task_id) == {
            "text": {"answer": 0},
            "empty": {"answer": 1},
            "list": {"answer": 2},
            "answered": {"answer": 3},  # the answer, not what the request held under that name
        }

    @pytest.mark.anyio
    async def test_answer_of_an_unknown_or_finished_task_records_nothing(self, store: TaskStore) -> None:
        record = asking(owner="me", status="completed", result={})
        await store.create(record)
        assert await store.answer(record.task_id, {"elicitation-1.1": 1}) == {}
        assert await store.journal(record.task_id) == {}
        assert await store.answer("no-such-task", {"elicitation-1.1": 1}) == {}
        assert await store.journal("no-such-task") == {}

    @pytest.mark.anyio
    async def test_answers_not_held_are_recorded_but_never_wait_for_the_owner(self, store: TaskStore) -> None:
        record = asking(owner="runner")
        await store.create(record)
        taken = await store.answer(record.task_id, {"elicitation-1.1": ANSWER, "bogus": 1}, hold=False)
        assert taken == {"elicitation-1.1": ANSWER}
        assert await store.answered_tasks("runner") == []
        assert await store.take_answers(record.task_id) == {}
        assert await store.journal(record.task_id) == {"elicitation-1.1": entry("elicitation-1.1", ANSWER)}
        # held and not held mix: only the held ones wait
        await store.answer(record.task_id, {"elicitation-1.2": 2})
        await store.answer(record.task_id, {"sampling-1.3": 3}, hold=False)
        assert await store.answered_tasks("runner") == [record.task_id]
        assert await store.take_answers(record.task_id) == {"elicitation-1.2": 2}
        got = await store.get(record.task_id)
        assert got is not None and got.status == "working" and got.input_requests == {}
        assert set(await store.journal(record.task_id)) == set(ASKED)

    @pytest.mark.anyio
    async def test_the_owner_records_and_the_last_entry_under_a_key_wins(self, store: TaskStore) -> None:
        record = asking(owner="me", created_ms=T0, updated_ms=T0 + 5)
        await store.create(record)
        step = {"result": {"content": [{"type": "text", "text": "résumé"}]}, "n": 2**60 + 1, "x": 0.1}
        assert await store.record(record.task_id, "step-1", step, owner="me") is True
        assert await store.record(record.task_id, "step-2", {"v": 1}, owner="me") is True
        assert await store.record(record.task_id, "step-2", {"v": 2}, owner="me") is True
        await store.answer(record.task_id, {"sampling-1.3": "ok"})
        assert await store.record(record.task_id, "sampling-1.3", {"replaced": True}, owner="me") is True
        assert await store.journal(record.task_id) == {
            "step-1": step,
            "step-2": {"v": 2},
            "sampling-1.3": {"replaced": True},
        }

    @pytest.mark.anyio
    async def test_recording_is_no_visible_change_of_the_task(self, store: TaskStore) -> None:
        record = asking(owner="me", created_ms=T0, updated_ms=T0 + 5)
        await store.create(record)
        assert await store.record(record.task_id, "step-1", {"v": 1}, owner="me") is True
        assert await store.get(record.task_id) == record  # updated_ms included
        assert await store.changed_since([record.task_id], T0 + 6) == []

    @pytest.mark.anyio
    async def test_record_is_refused_unless_the_live_task_is_the_callers(self, store: TaskStore) -> None:
        theirs = make(owner="them")
        queued = make(owner=None)
        finished = make(owner="me", status="completed", result={})
        for rec in (theirs, queued, finished):
            await store.create(rec)
        assert await store.record(theirs.task_id, "k", {"v": 1}, owner="me") is False
        assert await store.record(queued.task_id, "k", {"v": 1}, owner="me") is False
        assert await store.record(finished.task_id, "k", {"v": 1}, owner="me") is False
        assert await store.record("no-such-task", "k", {"v": 1}, owner="me") is False
        for task_id in (theirs.task_id, queued.task_id, finished.task_id, "no-such-task"):
            assert await store.journal(task_id) == {}
        assert await store.get("no-such-task") is None  # nothing created on the way
        # once the task is handed over or finished, its former owner records nothing more
        mine = make(owner="me")
        await store.create(mine)
        assert await store.record(mine.task_id, "k", {"v": 1}, owner="me") is True
        assert await store.update(mine.task_id, {"owner": "other"}, owner="me") is not None
        assert await store.record(mine.task_id, "k", {"v": 2}, owner="me") is False
        assert await store.update(mine.task_id, {"status": "cancelled"}) is not None
        assert await store.record(mine.task_id, "k", {"v": 3}, owner="other") is False
        assert await store.journal(mine.task_id) == {"k": {"v": 1}}

    @pytest.mark.anyio
    async def test_an_entry_is_checked_before_anything_is_written(self, store: TaskStore) -> None:
        record = make(owner="me")
        await store.create(record)
        assert await store.record(record.task_id, "ok", {"v": 1}, owner="me") is True
        with pytest.raises(StoreEncodingError, match="lone surrogate"):
            await store.record(record.task_id, "ok", {"text": "bad \udc80"}, owner="me")
        with pytest.raises(StoreEncodingError, match="lone surrogate"):
            await store.record(record.task_id, "bad \ud800 key", {"v": 2}, owner="me")
        with pytest.raises(StoreEncodingError):  # even where nothing would have been written
            await store.record("no-such-task", "k", {"text": "\udfff"}, owner="me")
        assert await store.journal(record.task_id) == {"ok": {"v": 1}}
        # what JSON cannot hold becomes null, as in every other document
        assert await store.record(record.task_id, "nan", {"x": math.nan, "y": [math.inf]}, owner="me") is True
        assert (await store.journal(record.task_id))["nan"] == {"x": None, "y": [None]}

    @pytest.mark.anyio
    async def test_the_journal_is_a_copy(self, store: TaskStore) -> None:
        record = asking(owner="me")
        await store.create(record)
        await store.answer(record.task_id, {"elicitation-1.1": {"list": [1]}})
        await store.record(record.task_id, "step", {"list": [1]}, owner="me")
        handed = await store.take_answers(record.task_id)
        handed["elicitation-1.1"]["list"].append("mutated")
        seen = await store.journal(record.task_id)
        seen["step"]["list"].append("mutated")
        seen["elicitation-1.1"]["params"]["message"] = "mutated"
        assert await store.journal(record.task_id) == {
            "elicitation-1.1": entry("elicitation-1.1", {"list": [1]}),
            "step": {"list": [1]},
        }

    @pytest.mark.anyio
    async def test_the_journal_goes_with_its_task(self, store: TaskStore) -> None:
        expiring = asking(owner="me", created_ms=T0, ttl_ms=10)
        finished = asking(owner="me")
        live = asking(owner="me")
        for rec in (expiring, finished, live):
            await store.create(rec)
            await store.answer(rec.task_id, {"elicitation-1.1": 1})
            assert await store.record(rec.task_id, "step", {"v": 1}, owner="me") is True
        assert await store.update(finished.task_id, {"status": "completed", "result": {}}) is not None
        assert len(await store.journal(finished.task_id)) == 2  # a finished task keeps its journal

        assert await store.purge_expired(T0 + 10) == 1
        assert await store.journal(expiring.task_id) == {}
        assert await store.purge_tasks([finished.task_id, live.task_id]) == [finished.task_id]
        assert await store.journal(finished.task_id) == {}
        assert len(await store.journal(live.task_id)) == 2  # a live task is not purged
        # an id used again starts with an empty journal
        await store.create(make(expiring.task_id, owner="me"))
        await store.create(make(finished.task_id, owner="me"))
        assert await store.journal(expiring.task_id) == {}
        assert await store.journal(finished.task_id) == {}

    @pytest.mark.anyio
    async def test_racing_answers_record_each_key_once_with_the_winners_answer(self, store: TaskStore) -> None:
        for _ in range(5):
            record = asking(owner="me")
            await store.create(record)
            taken: dict[int, dict[str, Any]] = {}

            async def answer(i: int, task_id: str = record.task_id, out: dict[int, dict[str, Any]] = taken) -> None:
                out[i] = await store.answer(task_id, {key: {"by": i} for key in ASKED}, hold=i % 2 == 0)

            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(answer, i)

            winners = {key: i for i, got in taken.items() for key in got}
            assert sorted(key for got in taken.values() for key in got) == sorted(ASKED)  # each key once
            assert await store.journal(record.task_id) == {key: entry(key, {"by": i}) for key, i in winners.items()}
            held = {key: {"by": i} for key, i in winners.items() if i % 2 == 0}
            assert await store.take_answers(record.task_id) == held
