"""The CLI at a real terminal: prompts, Ctrl-C (SIGINT from the tty driver), the status line and its progress bar.

Each test runs `offload` on a pseudo-terminal that is its controlling terminal, so typing ^C there
sends SIGINT to it exactly as a person's keyboard would.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import Terminal, wait_status

from helpers import ServerProcess

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")

TASK_ID = r"[A-Za-z0-9_-]{43}"


def _hint(text: str, url: str) -> str:
    match = re.search(rf"offload: interrupted; the task keeps running: offload task wait (\S+) ({TASK_ID})", text)
    assert match, text
    assert match.group(1) == url
    return match.group(2)


def test_call_asks_at_a_terminal(server: ServerProcess, journal: Path) -> None:
    term = Terminal("call", server.url, "ask_name", journal=journal)
    try:
        term.read_until(b"Please enter your name.")
        term.read_until(b"Answer?")
        term.type(b"\n")
        term.read_until(b"Name")
        term.type(b"Ada\n")
        assert term.finish() == 0, term.text()
    finally:
        term.close()
    assert "Hello, Ada!" in term.text()
    assert "Traceback" not in term.text()


def test_ctrl_c_at_a_prompt_stops_at_once_and_sends_nothing(server: ServerProcess, journal: Path) -> None:
    term = Terminal("call", server.url, "approve", journal=journal)
    try:
        term.read_until(b"Ship it?")
        term.read_until(b"Answer?")
        term.type(b"\x03")
        assert term.finish() == 130, term.text()
    finally:
        term.close()
    text = term.text()
    assert "Traceback" not in text
    task_id = _hint(text, server.url)
    # The question is still open: no answer (not the default "yes") went to the server.
    task = wait_status(server, task_id, ("input_required",))
    assert len(task["inputRequests"]) == 1


def test_ctrl_c_while_following_leaves_the_task_running(server: ServerProcess, journal: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    term = Terminal("call", server.url, "gated", f"path={gate}", journal=journal)
    try:
        term.read_until(b"waiting for the gate")  # the status line is up
        term.type(b"\x03")
        assert term.finish() == 130, term.text()
    finally:
        term.close()
        gate.write_text("open")
    text = term.text()
    assert "Traceback" not in text
    task_id = _hint(text, server.url)
    assert wait_status(server, task_id, ("completed",))["status"] == "completed"
    assert text.rfind("\x1b[?25h") > text.rfind("\x1b[?25l")  # the cursor is shown again


def _root_package_is_light() -> bool:
    """Whether `import offload` stays clear of the server (the console script imports it before main() runs)."""
    probe = "import sys, offload; print('offload.server' in sys.modules or 'mcp' in sys.modules)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5])
def test_ctrl_c_during_start_up_is_one_line(server: ServerProcess, journal: Path, delay: float) -> None:
    # Before main() runs, the console script imports the `offload` package: if that imports the whole
    # server (seconds), a Ctrl-C then is Python's own KeyboardInterrupt, out of the CLI's reach.
    if not _root_package_is_light():
        pytest.skip("offload/__init__.py imports the server eagerly; the CLI cannot catch Ctrl-C that early")
    term = Terminal("call", server.url, "slow", "steps=50", journal=journal)
    try:
        time.sleep(delay)
        term.type(b"\x03")
        code = term.finish()
    finally:
        term.close()
    text = term.text()
    assert "Traceback" not in text, text
    if code == 0:  # a fast machine finished first: nothing to interrupt
        return
    assert code == 130, text
    assert "offload: interrupted" in text


def test_the_status_line_shows_a_progress_bar(server: ServerProcess, journal: Path) -> None:
    term = Terminal("call", server.url, "counted", "total=40", journal=journal)
    try:
        assert term.finish() == 0, term.text()
    finally:
        term.close()
    text = term.text()
    assert "counted to 40" in text
    # rich draws the bar with box characters beside "N/40"; the line is redrawn in place.
    assert re.search(r"[━╸╺]+.*\d+/40", text), text
    assert "\r" in text
