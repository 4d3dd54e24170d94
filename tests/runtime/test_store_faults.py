"""What the runtime does when the store refuses an outcome it cannot hold."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from offload.protocol import INTERNAL_ERROR
from offload.runtime import TaskPolicy, TaskRuntime
from offload.runtime.execution import TaskDispatch
from offload.store import MemoryStore, TaskRecord


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_result_no_store_can_hold_fails_the_task_naming_the_field() -> None:
    store = MemoryStore()
    runtime = TaskRuntime(store, sweep_interval_s=3600)
    gate = anyio.Event()

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await gate.wait()
        return {"content": [{"type": "text", "text": "half a pair \ud83d"}]}

    async with runtime.running():
        ex = runtime.start(tool, tool="t", policy=TaskPolicy(mode="optional"))
        await ex.promote()
        gate.set()
        record: TaskRecord | None = None
        with anyio.fail_after(10):
            while record is None or not record.terminal:
                await anyio.sleep(0.01)
                record = await store.get(ex.task_id)
    assert record.status == "failed"
    assert record.error is not None and record.error["code"] == INTERNAL_ERROR
    assert "result.content[0].text" in record.error["message"] and "surrogate" in record.error["message"]
