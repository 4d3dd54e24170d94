"""Runs the shared store contract (tests/store_contract.py) against every backend in BACKENDS."""

from store_contract import StoreContract


class TestStoreContract(StoreContract):
    pass
