"""Restart durability: SIGKILL a server mid-task and start another on the same SQLite file."""

from __future__ import annotations

from pathlib import Path

from helpers import Client, ServerProcess, text_of, wait_until


def test_tasks_survive_a_crash_and_lost_work_is_failed_or_rerun(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    unsafe, safe = str(tmp_path / "unsafe"), str(tmp_path / "safe")

    first = ServerProcess("durable_server.py", db, tmp_path / "first.log")
    try:
        c1 = Client(first.url)
        done_id = c1.start_task("quick", {"x": 42})
        done = c1.wait_for(done_id)
        assert done["status"] == "completed"
        unsafe_id = c1.start_task("slow_unsafe", {"path": unsafe})
        safe_id = c1.start_task("slow_safe", {"path": safe})
        wait_until(lambda: Path(unsafe + ".starts").exists() and Path(safe + ".starts").exists(), what="both to start")
        assert c1.get(unsafe_id)["status"] == "working"
        assert c1.get(safe_id)["status"] == "working"
        c1.close()
    finally:
        first.kill()  # SIGKILL: no lease release, no cleanup

    second = ServerProcess("durable_server.py", db, tmp_path / "second.log")
    try:
        c2 = Client(second.url)
        # The completed task is served as it was.
        again = c2.get(done_id)
        assert again["status"] == "completed"
        assert again["result"] == done["result"]
        assert text_of(again["result"]) == "quick:42"

        # The task that is not safe to retry fails, saying why, once its lease (1 s) runs out.
        lost = c2.wait_for(unsafe_id)
        assert lost["status"] == "failed", lost
        assert "lost" in lost["statusMessage"]
        assert lost["error"]["code"] == -32051  # WORKER_LOST
        assert Path(unsafe + ".starts").read_text() == "1"

        # The retry-safe task runs again from the start and completes.
        rerun = c2.wait_for(safe_id)
        assert rerun["status"] == "completed", rerun
        assert text_of(rerun["result"]) == "safe finished after 2 start(s)"
        assert Path(safe + ".starts").read_text() == "2"
        c2.close()
    finally:
        second.stop()
