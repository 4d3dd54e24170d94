"""The scripted agent loop (offload.demo.agent_loop, examples/agent_loop.py) against the demo server.

The model is a deterministic stand-in; the server, the tasks and the 2025-11-25 blocking host are real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from helpers import OFFLOAD, free_port, wait_listening
from offload.demo.agent_loop import ScriptedModel, ToolCall, run_agent_loop, run_blocking

ROOT = Path(__file__).resolve().parents[2]
TASK_ID = "T" * 43


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("loop")
    port = free_port()
    log = base / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [OFFLOAD, "serve", "offload.demo.server:server", "--port", str(port), "--store", f"sqlite:///{base}/t.db"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OFFLOAD_DEMO_STEP_S": "0.05"},
        )
        try:
            wait_listening(proc, port, log.read_text, what="the demo server")
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_the_scripted_model_reacts_to_what_it_reads() -> None:
    model = ScriptedModel(version="9.9.9", lines=10)
    assert model.next() == ToolCall("release", {"version": "9.9.9"})
    model.read(f"task {TASK_ID} started (tool release, status working); call task_result ...", ToolCall("release", {}))
    asked = f'task {TASK_ID} (tool release) needs input: [key k-1] "Ship?" fields: approve (boolean, required)'
    model.read(asked)
    assert model.next() == ToolCall("task_answer", {"task_id": TASK_ID, "key": "k-1", "answer": {"approve": True}})
    assert model.next() == ToolCall("run_pipeline", {"lines": 10})
    model.read("Pipeline passed", ToolCall("run_pipeline", {}))  # answered inline
    assert model.next() == ToolCall("latest_version", {})
    model.read("9.9.9", ToolCall("latest_version", {}))
    assert model.next() == "wait"
    model.read(f"task {TASK_ID} (tool release) completed")
    call = model.next()
    assert call == ToolCall("task_result", {"task_id": TASK_ID})
    model.read("Released 9.9.9", call)  # type: ignore[arg-type]
    assert model.next() == "done"
    assert model.outcomes == {"release": "Released 9.9.9", "run_pipeline": "Pipeline passed", "latest_version": "9.9.9"}


def test_the_loop_learns_of_the_question_from_the_attention_line_and_its_window_stays_small(demo: str) -> None:
    loop = anyio.run(lambda: run_agent_loop(demo, lines=3000))
    blocking, outcomes = anyio.run(lambda: run_blocking(demo, lines=3000))
    window = loop.window

    assert (
        loop.outcomes
        == outcomes
        == {
            "release": "Released 1.4.0: 5 steps passed, approved, deployed",
            "run_pipeline": "Pipeline passed: 3000 checks, 0 failed",
            "latest_version": "1.4.0",
        }
    )
    kinds = [kind for kind, _ in window.entries]
    texts = [text for _, text in window.entries]
    # The question reached the model through an attention line, and the model answered it with task_answer.
    asks = next(i for i, t in enumerate(texts) if "needs input" in t)
    assert kinds[asks] == "attention" and '"All 5 steps passed. Ship 1.4.0 to production?"' in texts[asks]
    answered = next(i for i, t in enumerate(texts) if "answer to" in t and t.endswith("the task resumes"))
    assert answered > asks and kinds[answered] == "tool"
    # Completion news came the same way, and only then did the model fetch the results.
    done = [i for i, t in enumerate(texts) if kinds[i] == "attention" and "completed" in t]
    released = texts.index("Released 1.4.0: 5 steps passed, approved, deployed")
    assert done and min(done) < released
    # Every attention line is one line, and each piece of news was told once.
    assert all("\n" not in t for t in window.texts("attention"))
    assert " ".join(window.texts("attention")).count("needs input") == 1
    # The accounting: attention lines are measured on their own, and the whole window is a sliver
    # of what the blocking host received (3,000 log lines, every progress update, the question).
    assert window.bytes() == window.bytes("tool") + window.bytes("attention")
    assert 0 < window.bytes("attention") < 1000
    assert blocking.count("log") == 3000 and blocking.count("question") == 1 and blocking.count("progress") > 5
    assert window.bytes() < 2000 < 200_000 < blocking.bytes()


def test_the_example_runs(demo: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "agent_loop.py"), demo], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "model <- attention" in out and "needs input" in out
    assert "model <- tool      Released 1.4.0: 5 steps passed, approved, deployed" in out
    assert "window with tasks:" in out and "window blocking:" in out
