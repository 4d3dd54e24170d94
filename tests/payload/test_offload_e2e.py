"""Large results over HTTP: offloaded to blobs, linked with a preview, read whole or in ranges."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from helpers import Client, RpcError, ServerProcess, free_port


def log_text(lines: int, width: int = 60) -> str:  # the server's own generator (tests/servers/payload_server.py)
    return "".join(f"{i:08d} {'abcdefghij' * (width // 10)}\n" for i in range(1, lines + 1))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("payload-auth")
    port = free_port()
    srv = ServerProcess(
        "payload_server.py", base / "tasks.db", base / "server.log", port=port, env={"OFFLOAD_TEST_PORT": str(port)}
    )
    yield srv
    srv.stop()


@pytest.fixture
def alice(server: ServerProcess) -> Iterator[Client]:
    c = Client(server.url, token="alice-token")
    yield c
    c.close()


@pytest.fixture
def bob(server: ServerProcess) -> Iterator[Client]:
    c = Client(server.url, token="bob-token")
    yield c
    c.close()


def read(client: Client, uri: str) -> dict[str, object]:
    result = client.request("resources/read", {"uri": uri}, name=uri)
    (contents,) = result["contents"]
    return contents  # type: ignore[no-any-return]


def test_a_5_mb_log_completes_as_a_preview_and_a_link(alice: Client) -> None:
    task = alice.wait_for(alice.start_task("big_log", {"lines": 75_000}))  # ~5.1 MB, over the 4 MiB inline limit
    assert task["status"] == "completed", task
    result = task["result"]
    assert len(json.dumps(result)) < 8 * 1024  # what enters the window: a preview, not 5 MB
    preview, link = result["content"]
    assert preview["type"] == "text"
    assert "00000001 abc" in preview["text"] and "00075000 abc" in preview["text"]  # head and tail
    assert "75,000 lines" in preview["text"]
    assert link["type"] == "resource_link"
    size = len(log_text(75_000))
    assert link["size"] == size and link["mimeType"] == "text/plain"
    assert link["uri"] == f"offload://task/{task['taskId']}/blob/0"
    assert link["name"] and "lines=A:B" in link["description"]
    # The SDK mirrors a `-> str` return in structuredContent: it becomes the same preview, still a string.
    assert result["structuredContent"] == {"result": preview["text"]}
    whole = read(alice, link["uri"])
    assert whole["text"] == log_text(75_000)
    assert whole["_meta"]["offload/range"]["bytes"] == [0, size]  # type: ignore[index]


def test_ranges_by_line_and_by_byte(alice: Client) -> None:
    task = alice.wait_for(alice.start_task("big_log", {"lines": 20_000}))
    uri = task["result"]["content"][1]["uri"]
    lines = log_text(20_000).splitlines(keepends=True)
    assert read(alice, uri + "?lines=5:7")["text"] == "".join(lines[4:7])
    assert read(alice, uri + "?lines=-3:")["text"] == "".join(lines[-3:])
    assert read(alice, uri + "?lines=19999")["text"] == lines[19998]
    assert read(alice, uri + "?bytes=0:100")["text"] == log_text(20_000)[:100]
    tail = read(alice, uri + "?bytes=-70:")
    assert tail["text"] == lines[-1] and tail["_meta"]["offload/range"]["totalLines"] == 20_000  # type: ignore[index]


def test_links_are_their_principals_only_and_look_unknown_to_others(alice: Client, bob: Client) -> None:
    task = alice.wait_for(alice.start_task("big_log", {"lines": 2_000}))
    uri = task["result"]["content"][1]["uri"]
    with pytest.raises(RpcError) as theirs:
        read(bob, uri)
    with pytest.raises(RpcError) as unknown:
        read(bob, "offload://task/" + "x" * 43 + "/blob/0")
    assert theirs.value.code == unknown.value.code == -32602
    # The same words as for a resource that does not exist, with the URI asked for.
    assert theirs.value.message.replace(uri, "<uri>") == unknown.value.message.replace(
        "offload://task/" + "x" * 43 + "/blob/0", "<uri>"
    )
    assert theirs.value.data == {"uri": uri}
    with pytest.raises(RpcError) as item:  # an item the result does not link
        read(alice, uri.replace("/blob/0", "/blob/7"))
    assert item.value.code == -32602
    assert read(alice, uri + "?lines=1:1")["text"] == log_text(1)  # and the owner reads it


def test_malformed_links_get_a_clear_invalid_params(alice: Client) -> None:
    for bad, says in [
        ("offload://task/abc/blob/0?lines=x:y", "lines must be A:B"),
        ("offload://task/abc/blob/0?lines=0:3", "start at 1"),
        ("offload://task/abc/blob/0?bytes=5", "bytes must be a range"),
        ("offload://task/abc/item/0", "expected offload://task/<taskId>/blob/<n>"),
        ("offload://task/abc/blob/0?lines=1:2&bytes=0:3", "one of lines=A:B or bytes=A:B"),
    ]:
        with pytest.raises(RpcError) as caught:
            read(alice, bad)
        assert caught.value.code == -32602 and says in caught.value.message, (bad, caught.value.message)


def test_a_tool_supplied_preview_replaces_head_and_tail(alice: Client) -> None:
    task = alice.wait_for(alice.start_task("previewed_log", {"lines": 5_000}))
    preview, link = task["result"]["content"]
    assert preview["text"].startswith("build log: 5000 lines, 0 errors")
    assert "00000001" not in preview["text"]
    assert read(alice, link["uri"] + "?lines=1:1")["text"] == log_text(1)


def test_only_large_items_move_and_binary_items_read_back_as_blobs(alice: Client) -> None:
    task = alice.wait_for(alice.start_task("mixed", {"lines": 3_000}))
    kinds = [item["type"] for item in task["result"]["content"]]
    assert kinds == ["text", "text", "resource_link", "text", "resource_link"], kinds
    assert task["result"]["content"][0]["text"] == "short note"
    image = task["result"]["content"][4]
    assert image["mimeType"] == "image/png" and image["uri"].endswith("/blob/2")
    got = read(alice, image["uri"])
    assert base64.b64decode(got["blob"]) == bytes(range(256)) * 800  # type: ignore[arg-type]


def test_offloading_can_be_turned_off_per_tool_and_the_threshold_set(alice: Client) -> None:
    small = alice.wait_for(alice.start_task("never_offloaded", {"lines": 2_000}))  # ~140 KB, under 4 MiB
    assert [item["type"] for item in small["result"]["content"]] == ["text"]
    failed = alice.wait_for(alice.start_task("never_offloaded", {"lines": 80_000}))  # ~5.5 MB, over 4 MiB
    assert failed["status"] == "failed" and "offloading is off" in failed["error"]["message"]
    low = alice.wait_for(alice.start_task("low_threshold", {"lines": 100}))  # ~7 KB, over its 1 KiB threshold
    assert [item["type"] for item in low["result"]["content"]] == ["text", "resource_link"]
    assert "00000100" in low["result"]["content"][0]["text"]  # 100 lines: all shown in the preview


def test_another_instance_on_the_same_store_serves_the_link(server: ServerProcess, alice: Client) -> None:
    task = alice.wait_for(alice.start_task("big_log", {"lines": 3_000}))
    uri = task["result"]["content"][1]["uri"]
    port = free_port()
    other = ServerProcess(
        "payload_server.py",
        server.db,
        server.db.parent / "other.log",
        port=port,
        env={"OFFLOAD_TEST_PORT": str(port)},
    )
    try:
        elsewhere = Client(other.url, token="alice-token")
        assert read(elsewhere, uri + "?lines=-1:")["text"] == log_text(3_000).splitlines(keepends=True)[-1]
        elsewhere.close()
    finally:
        other.stop()
