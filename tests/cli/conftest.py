"""Fixtures of the CLI tests: one `offload serve tests/servers/cli_server.py` for the session, a journal per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import ServerProcess

pytest.register_assert_rewrite("cli_helpers")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("cli-server")
    srv = ServerProcess("cli_server.py", base / "tasks.db", base / "server.log")
    yield srv
    srv.stop()


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.db"
