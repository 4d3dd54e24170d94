"""The context accounting for large results and for polling, against a real server."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from helpers import Client, ServerProcess
from offload.agent.payload import measure_large_result, measure_polls


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("payload-context")
    srv = ServerProcess("payload_server.py", base / "tasks.db", base / "server.log")
    yield srv
    srv.stop()


def test_a_link_and_a_slice_cost_a_fraction_of_the_result(server: ServerProcess) -> None:
    report = anyio.run(
        lambda: measure_large_result(
            server.url, "optional_log", {"lines": 25_000}, inline_tool="optional_log_inline", slice_lines="-40:"
        )
    )
    size = 25_000 * 70
    assert report.blocking_bytes > size and report.inline_task_bytes is not None
    assert report.inline_task_bytes > size  # the whole result, through tasks/get
    assert report.links == 1
    assert report.link_bytes < 8 * 1024  # previews and a link
    assert 40 * 70 <= report.slice_bytes < 40 * 70 + 200  # the 40 lines asked for
    assert (report.link_bytes + report.slice_bytes) * 100 < report.blocking_bytes
    text = "\n".join(report.lines())
    assert "blocking:" in text and "link + slice" in text


def test_polls_per_task_fixed_and_adaptive(server: ServerProcess) -> None:
    warm = Client(server.url)  # five runs teach the server what `timed` takes
    try:
        ids = [warm.start_task("timed", {"ms": 600}) for _ in range(5)]
        for task_id in ids:
            warm.wait_for(task_id)
    finally:
        warm.close()
    report = anyio.run(lambda: measure_polls(server.url, "timed", {"ms": 600}, runs=4, fixed_ms=150))
    assert all(polls >= 4 for polls in report.fixed_polls), report  # 600 ms at 150 ms: at least 4 looks
    assert all(1 <= polls <= 3 for polls in report.adaptive_polls), report
    assert len(report.fixed_delays_ms) == len(report.adaptive_delays_ms) == 4
    assert all(0 <= delay < 30_000 for delay in report.fixed_delays_ms + report.adaptive_delays_ms)
    assert "adaptive" in report.lines()[1]
