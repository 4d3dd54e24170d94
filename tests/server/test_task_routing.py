"""Requests from many tasks of one client envelope reach their own task, whatever SDK channel they use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import Client, ServerProcess, wait_until


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess("routing_server.py", tmp_path / "tasks.db", tmp_path / "server.log")
    yield srv
    srv.stop()


def test_each_task_gets_its_own_questions(server: ServerProcess) -> None:
    client = Client(server.url)
    try:
        tags = [f"t{i}" for i in range(6)]
        ids = {tag: client.start_task("ask_both", {"tag": tag}) for tag in tags}

        def both_asked(task_id: str) -> dict[str, object] | None:
            task = client.request("tasks/get", {"taskId": task_id})
            requests = task.get("inputRequests", {})
            return task if len(requests) == 2 else None

        for tag, task_id in ids.items():
            task = wait_until(lambda task_id=task_id: both_asked(task_id), what=f"two questions from {tag}")
            by_method = {req["method"]: (key, req) for key, req in task["inputRequests"].items()}
            assert set(by_method) == {"elicitation/create", "sampling/createMessage"}
            # each question names its own task's tag: nothing was routed to a sibling task
            elicit_key, elicit = by_method["elicitation/create"]
            sample_key, sample = by_method["sampling/createMessage"]
            assert elicit["params"]["message"] == f"word for {tag}?"
            assert sample["params"]["messages"][0]["content"]["text"] == f"sample {tag}"
            client.request(
                "tasks/update",
                {
                    "taskId": task_id,
                    "inputResponses": {
                        elicit_key: {"action": "accept", "content": {"word": f"w{tag}"}},
                        sample_key: {"role": "assistant", "model": "m", "content": {"type": "text", "text": f"s{tag}"}},
                    },
                },
            )
        for tag, task_id in ids.items():
            done = client.wait_for(task_id)
            assert done["status"] == "completed", done
            assert done["result"]["content"][0]["text"] == f"{tag}: w{tag} s{tag}"
    finally:
        client.close()
