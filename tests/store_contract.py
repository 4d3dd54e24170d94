"""The contract every `TaskStore` backend must honour, run once per backend.

`StoreContract` gathers the four parts (tasks, instances, rules, journal); `tests/store/test_store_contract.py`
is what pytest collects. To test a new backend, add its factory to `BACKENDS` in store_samples.py:
every test then runs against it. The `store` fixture opens a fresh store before each test and closes
it after.

Nothing here looks inside a backend: only the `TaskStore` methods are used, so a test that fails
names a real difference in behaviour, not an implementation detail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The parts are imported by this module only: rewrite their asserts too (conftest does this one).
pytest.register_assert_rewrite(
    "store_contract_tasks", "store_contract_instances", "store_contract_rules", "store_contract_journal"
)

from offload.store import TaskStore  # noqa: E402
from store_contract_instances import InstanceContract  # noqa: E402
from store_contract_journal import JournalContract  # noqa: E402
from store_contract_rules import RuleContract  # noqa: E402
from store_contract_tasks import TaskContract  # noqa: E402
from store_samples import BACKENDS, T0, full_record, make, new_id, sample_record  # noqa: E402

__all__ = ["BACKENDS", "T0", "StoreContract", "full_record", "make", "new_id", "sample_record"]


class StoreContract(TaskContract, InstanceContract, RuleContract, JournalContract):
    """Subclass this in a test module; every backend in BACKENDS runs every test."""

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture(params=list(BACKENDS))
    async def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TaskStore]:
        backend = await BACKENDS[request.param](tmp_path)
        await backend.open()
        try:
            yield backend
        finally:
            await backend.close()
