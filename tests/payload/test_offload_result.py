"""The offloading rules on their own: what moves, what stays, what still fails, and the preview."""

from __future__ import annotations

import json

import pytest

from offload.protocol.links import BlobRef, blob_uri, parse_blob_uri, resolve_lines
from offload.runtime.offload_result import ResultOffloader, ResultTooLarge, preview_text
from offload.store import MemoryStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def offloader(threshold: int = 4096, inline: int = 64 * 1024, most: int = 1024 * 1024) -> ResultOffloader:
    store = MemoryStore()
    return ResultOffloader(lambda: store, lambda _tool: (threshold, inline, most))


def text(n: int) -> str:
    return "".join(f"row {i}\n" for i in range(n))


async def test_a_small_result_is_returned_as_it_is() -> None:
    result = {"content": [{"type": "text", "text": "ok"}]}
    assert await offloader().shape("t", "tool", None, result) is result


async def test_structured_strings_become_previews_and_other_large_structure_fails() -> None:
    off = offloader()
    shaped = await off.shape("t", "tool", None, {"content": [], "structuredContent": {"log": text(5000), "n": 3}})
    assert shaped["structuredContent"]["n"] == 3
    assert shaped["structuredContent"]["log"].startswith("[")  # a preview string, ending with the link
    assert shaped["structuredContent"]["log"].endswith(f"[full item: {blob_uri('t', 0)}]")
    assert [c["type"] for c in shaped["content"]] == ["text", "resource_link"]
    assert await off.blobs().read_lines("t", 0, 1, 1) == b"row 0\n"
    rows = {"content": [], "structuredContent": {"rows": [{"i": i} for i in range(20_000)]}}
    with pytest.raises(ResultTooLarge, match="structuredContent is still"):
        await off.shape("t2", "tool", None, rows)


async def test_limits_off_and_over_the_maximum() -> None:
    big = {"content": [{"type": "text", "text": text(20_000)}]}
    with pytest.raises(ResultTooLarge, match="offloading is off"):
        await offloader(threshold=0).shape("t", "tool", None, big)
    with pytest.raises(ResultTooLarge, match="over the store limit of 100000"):
        await offloader(most=100_000).shape("t", "tool", None, big)
    shaped = await offloader().shape("t", "tool", None, big)
    assert len(json.dumps(shaped)) < 4096


def test_the_automatic_preview_counts_and_clips() -> None:
    preview = preview_text(text(1000))
    assert "1,000 lines" in preview and "row 0" in preview and "row 999" in preview and "row 500" not in preview
    assert "980 lines not shown" in preview
    long_line = preview_text("x" * 100_000)
    assert len(long_line) < 1200 and long_line.endswith("[...]")


def test_link_uris_and_ranges() -> None:
    ref = parse_blob_uri("offload://task/abc_-1/blob/3?lines=-50:")
    assert ref == BlobRef("abc_-1", 3, lines=(-50, None))
    assert ref.uri == "offload://task/abc_-1/blob/3?lines=-50:"
    assert parse_blob_uri("demo://x") is None
    assert resolve_lines((-50, None), 200) == (151, 200)
    assert resolve_lines((5, 7), 3) == (5, 3)  # past the end: empty
    assert parse_blob_uri("offload://task/t/blob/0?bytes=:10") == BlobRef("t", 0, bytes=(None, 10))
