"""Adaptive polling seen by a client over HTTP: the configured interval first, then learned ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import Client, ServerProcess


@pytest.fixture(scope="module")
def payload_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("payload-server")
    srv = ServerProcess("payload_server.py", base / "tasks.db", base / "server.log")
    yield srv
    srv.stop()


@pytest.fixture
def client(payload_server: ServerProcess) -> Iterator[Client]:
    c = Client(payload_server.url)
    yield c
    c.close()


def test_the_suggested_interval_follows_the_tools_durations(client: Client, tmp_path: Path) -> None:
    first = client.call("timed", {"ms": 200})
    assert first["resultType"] == "task" and first["pollIntervalMs"] == 5000  # nothing known yet: configured
    client.wait_for(first["taskId"])
    for _ in range(6):
        client.wait_for(client.start_task("timed", {"ms": 200}))
    created = client.call("timed", {"ms": 200})
    # Learned: look again near the end of a ~200 ms run, not after the configured 5 s.
    assert 50 <= created["pollIntervalMs"] < 5000, created
    final = client.wait_for(created["taskId"])
    assert final["status"] == "completed"
    assert "pollIntervalMs" in final
