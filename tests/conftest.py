"""Fixtures for the end-to-end suite: one real `offload serve` process shared by the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# The shared store contract is imported by several test modules: rewrite its asserts for all of them.
pytest.register_assert_rewrite("store_contract")

import redis_server  # noqa: E402
from helpers import Client, ServerProcess  # noqa: E402
from postgres_server import postgres_server, stop_postgres_at_session_end  # noqa: F401, E402 - session fixtures


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """tests/servers/e2e_server.py over HTTP with a real SQLite file."""
    base = tmp_path_factory.mktemp("e2e-server")
    srv = ServerProcess("e2e_server.py", base / "tasks.db", base / "server.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="session", autouse=True)
def _stop_redis_server() -> Iterator[None]:
    """Kill the redis-server (tests/redis_server.py) at session end, if any test started it."""
    yield
    redis_server.stop_redis_server()


@pytest.fixture
def client(e2e_server: ServerProcess) -> Iterator[Client]:
    c = Client(e2e_server.url)
    yield c
    c.close()


@pytest.fixture
def marker(tmp_path: Path) -> str:
    """A per-test file prefix the test tools use for start counts, gates and cleanup markers."""
    return str(tmp_path / "tool")


@pytest.fixture
def tiny_disk(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A small tmpfs (1 MiB; `@pytest.mark.disk_size("2m")` for another size) to fill up on purpose.

    Mounting needs root, as CI runs; elsewhere the test is skipped with the reason.
    """
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    marker = request.node.get_closest_marker("disk_size")
    size = marker.args[0] if marker else "1m"
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _redis_url() -> str:
    return f"{redis_server.redis_url()}?prefix={redis_server.unique_prefix()}"  # skips when not installed


def _postgres_url() -> str:
    from postgres_server import new_database_url  # the session's PostgreSQL, a database of this test's own

    return new_database_url()


#: A store URL per backend, for tests that run server processes on each (a fresh store each test).
STORE_URLS = {
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'tasks.db'}",
    "redis": lambda tmp: _redis_url(),
    "postgres": lambda tmp: _postgres_url(),
}


@pytest.fixture(params=list(STORE_URLS))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return STORE_URLS[request.param](tmp_path)
