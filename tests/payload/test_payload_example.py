"""examples/large_results.py and the client snippet of docs/payload.md work as documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from helpers import DEADLINE_S, OFFLOAD, free_port, wait_listening
from offload.client import TaskClient, TaskHandle
from offload.client.reads import offload_links

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    import subprocess

    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [OFFLOAD, "serve", str(ROOT / "examples/large_results.py"), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            wait_listening(proc, port, log.read_text, what="examples/large_results.py")
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            proc.terminate()
            proc.wait(timeout=DEADLINE_S)


def test_the_documented_client_snippet(url: str) -> None:
    async def run() -> None:
        # -- docs/payload.md, "Reading links" --
        async with TaskClient(url) as client:
            handle = await client.start_tool("build_log", {"lines": 100_000})
            assert isinstance(handle, TaskHandle)
            result = await handle.result()
            print(result.content[0].text)  # type: ignore[union-attr]  # the preview
            (link,) = offload_links(result)
            tail = await client.read(link["uri"], lines="-20:")
            first = await handle.read(lines="1:5")
        # --
        assert result.content[0].text.startswith("build ok: 100000 units")  # type: ignore[union-attr]
        assert tail.text is not None and tail.text.splitlines()[-1] == "0100000 compiled unit 100000"
        assert first.text is not None and first.text.startswith("0000001 compiled unit 1\n")
        assert link["size"] == sum(len(f"{i:07d} compiled unit {i}\n") for i in range(1, 100_001))

    anyio.run(run)
