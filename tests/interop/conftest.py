"""Session fixtures of the interop suite: one offload server, one gateway, every client run once.

Each client's driver runs once per session against each target and the tests assert on the lines
it printed. Against `offload serve` all clients run at once; through the gateway they run one
after the other (see `gateway_lane`), alongside the direct ones. So the matrix costs about one
pass through the gateway lane (dominated by FastMCP's start-up and the Inspector's cut-off wait).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from interop_env import SERVER, Gateway, InspectorCall, Run, ensure_installed, in_parallel, inspector, run_driver

from helpers import ServerProcess

CLIENTS = ("fastmcp", "typescript", "mcp2", "mcp1")
INSPECTOR_CALLS = {
    "inline": ("quick", {"x": "7"}),
    "task": ("slow", {"seconds": "0.3"}),
    "required": ("report", {"label": "r1"}),
    "elicit": ("approve", {"change": "deploy"}),
}
# The Inspector declares no elicitation; today such a task waits for an answer that never comes
# (issue 9 item 2), so its call is cut off here, well before the server's 60 s input timeout.
INSPECTOR_TIMEOUT_S = {"elicit": 25.0}
INSPECTOR_DEFAULT_TIMEOUT_S = 60.0
# Client processes at once: enough to overlap waiting with start-up, few enough for a 2-core machine.
PARALLEL = 6


@pytest.fixture(scope="session")
def installed() -> None:
    ensure_installed()


@pytest.fixture(scope="session")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`offload serve tests/interop/server.py`."""
    base = tmp_path_factory.mktemp("interop-direct")
    srv = ServerProcess(str(SERVER), base / "tasks.db", base / "server.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """`offload gateway` in front of the same tools served by a plain MCP server."""
    gw = Gateway(tmp_path_factory.mktemp("interop-gateway"))
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tools leave marker files (`hang` writes `<marker>.cancelled` when cancelled)."""
    return tmp_path_factory.mktemp("interop-markers")


def gateway_lane(url: str, markers: Path, home: Path) -> dict[tuple[str, str, str], Any]:
    """Every client through the gateway, one after the other, the Inspector's elicitation last.

    In turn, because a 2025-11-25 upstream's elicitation request does not say which call it belongs
    to: with several calls in flight on the upstream, the gateway refuses to guess (-32600), so one
    client's call in flight would make another's elicitation fail. The Inspector's unanswerable
    elicitation stays in flight until the input timeout, so it comes last.
    """
    results: dict[tuple[str, str, str], Any] = {}
    for client in CLIENTS:
        results[("driver", client, "gateway")] = run_driver(client, "gateway", url, str(markers / f"{client}-gateway"))
    for case, (tool, args) in INSPECTOR_CALLS.items():
        timeout = INSPECTOR_TIMEOUT_S.get(case, INSPECTOR_DEFAULT_TIMEOUT_S)
        results[("inspector", "gateway", case)] = inspector(url, home / f"gateway-{case}", tool, args, timeout=timeout)
    return results


@pytest.fixture(scope="session")
def client_results(
    installed: None, direct: ServerProcess, gateway: Gateway, markers: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str, str], Any]:
    """Every client against both targets: ("driver", client, target) -> Run, ("inspector", target,
    case) -> InspectorCall. Directly all at once; through the gateway in turn (`gateway_lane`),
    alongside."""
    home = tmp_path_factory.mktemp("inspector-home")
    keys: list[tuple[str, str, str]] = [("gateway", "*", "*")]
    jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [(gateway_lane, (gateway.url, markers, home))]
    for case, (tool, args) in INSPECTOR_CALLS.items():
        timeout = INSPECTOR_TIMEOUT_S.get(case, INSPECTOR_DEFAULT_TIMEOUT_S)
        keys.append(("inspector", "direct", case))
        jobs.append((partial(inspector, timeout=timeout), (direct.url, home / f"direct-{case}", tool, args)))
    for client in CLIENTS:
        keys.append(("driver", client, "direct"))
        jobs.append((run_driver, (client, "direct", direct.url, str(markers / f"{client}-direct"))))
    # Longest first (the list's order): the gateway lane, then the Inspector's waiting elicitation.
    jobs.insert(1, jobs.pop(keys.index(("inspector", "direct", "elicit"))))
    keys.insert(1, keys.pop(keys.index(("inspector", "direct", "elicit"))))
    results: dict[tuple[str, str, str], Any] = {}
    for key, result in zip(keys, in_parallel(jobs, lambda fn, args: fn(*args), workers=PARALLEL), strict=True):
        if key[0] == "gateway":
            results.update(result)
        else:
            results[key] = result
    return results


@pytest.fixture(scope="session")
def runs(client_results: dict[tuple[str, str, str], Any]) -> dict[tuple[str, str], Run]:
    return {(c, t): r for (kind, c, t), r in client_results.items() if kind == "driver"}


@pytest.fixture(scope="session")
def inspector_calls(client_results: dict[tuple[str, str, str], Any]) -> dict[tuple[str, str], InspectorCall]:
    return {(t, case): r for (kind, t, case), r in client_results.items() if kind == "inspector"}
