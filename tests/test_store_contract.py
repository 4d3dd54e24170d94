"""Runs the shared store contract (tests/store_contract.py) against every backend in BACKENDS."""

import pytest

pytest.register_assert_rewrite("store_contract")

from store_contract import StoreContract  # noqa: E402


class TestStoreContract(StoreContract):
    pass
