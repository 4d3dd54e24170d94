"""examples/approvals.py works as docs/approvals.md says: an approval outlives a deploy of its server."""

from __future__ import annotations

from pathlib import Path

from helpers import OFFLOAD, Client, LoggedProcess, elicit_accept, free_port, text_of

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "approvals.py"


def _serve(tmp_path: Path, port: int, n: int) -> LoggedProcess:
    cmd = [OFFLOAD, "serve", str(EXAMPLE), "--port", str(port), "--store", f"sqlite:///{tmp_path / 'a.db'}"]
    return LoggedProcess(cmd, tmp_path / f"serve{n}.log", port, what="examples/approvals.py", cwd=tmp_path)


def test_the_docs_show_the_examples_tool_as_it_is() -> None:
    doc = (ROOT / "docs" / "approvals.md").read_text()
    block = doc.split("```python\n", 1)[1].split("```", 1)[0]
    assert block.strip() and block in EXAMPLE.read_text()


def test_an_approval_outlives_a_deploy_and_the_build_runs_once(tmp_path: Path) -> None:
    port = free_port()
    server = _serve(tmp_path, port, 1)
    client = Client(server.url)
    try:
        task_id = client.start_task("release", {"version": "2.0"})
        asked = client.wait_until_task(task_id, lambda t: t["status"] == "input_required", "the approval")
        (key,) = asked["inputRequests"]
        question = asked["inputRequests"][key]["params"]["message"]
        server.stop()  # a deploy: SIGTERM, then the new version starts on the same store
        server = _serve(tmp_path, port, 2)
        again = client.get(task_id)
        assert again["status"] == "input_required" and again["inputRequests"] == asked["inputRequests"]
        client.update(task_id, {key: elicit_accept(approve=True)})
        done = client.wait_for(task_id)
    finally:
        client.close()
        server.stop()
    build_id = question.removeprefix("Deploy ").removesuffix(" to production?")
    # The build id is random per run of the build step: the same id means the build ran once.
    assert done["status"] == "completed" and text_of(done["result"]) == f"deployed {build_id}"
