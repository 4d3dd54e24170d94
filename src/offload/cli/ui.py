"""The live status line on stderr while a command follows a task.

At a terminal it is one line redrawn in place by `rich`: task, status, a progress bar when the
task's progress has a total, its statusMessage, the elapsed time, and "reconnecting since ..."
while the server does not answer. In a pipe or a log it is a plain line per change, no escape codes.

Progress: the server turns `report_progress(3, 5)` into the statusMessage "3/5" (a message given
with the progress replaces it), so a statusMessage that starts with `N/TOTAL` is read as progress.
"""

from __future__ import annotations

import re
import time
from typing import IO, Any

import anyio
from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from offload.cli import interrupt
from offload.cli.render import duration, epoch

__all__ = ["StatusLine", "parse_progress"]

_PROGRESS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)(?:\s*[:\-–]?\s+(.*))?\s*", re.S)
_STYLE = {
    "working": "cyan",
    "input_required": "yellow",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def parse_progress(message: str | None) -> tuple[float, float, str] | None:
    """`"3/5"` -> (3, 5, ""), `"3/5 copying"` -> (3, 5, "copying"); None without a positive total."""
    if not message:
        return None
    match = _PROGRESS.fullmatch(message)
    if match is None:
        return None
    done, total = float(match.group(1)), float(match.group(2))
    if total <= 0:
        return None
    return min(done, total), total, (match.group(3) or "").strip()


class StatusLine:
    """Shows where a task stands; `update()` with each new view of it, `stop()` before printing."""

    def __init__(self, stream: IO[str], *, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.console = Console(file=stream, highlight=False)
        self.tty = self.console.is_terminal
        self.task_id = ""
        self.task: dict[str, Any] | None = None
        self.unreachable_since: float | None = None
        self.give_up_at: float | None = None
        self.paused = False  # a prompt is on the terminal
        self._t0 = time.time()
        self._live: Live | None = None
        self._last: tuple[Any, ...] | None = None
        self._remove_cleanup = interrupt.on_interrupt(self.stop)

    # -- what is shown --

    def text(self) -> str:
        """The plain line: `task ID… STATUS ELAPSED  [N/TOTAL] MESSAGE` (and the reconnect state)."""
        task = self.task or {}
        line = f"task {self.task_id[:10]}… {task.get('status', '?')} {self._elapsed()}"
        message = task.get("statusMessage")
        if message:
            line += f"  {message}"
        if self.unreachable_since is not None:
            line += f"  {self._reconnecting()}"
        return line

    def _elapsed(self) -> str:
        started = epoch((self.task or {}).get("createdAt")) or self._t0
        return duration(time.time() - started)

    def _reconnecting(self) -> str:
        since = self.unreachable_since or time.time()
        text = f"reconnecting since {time.strftime('%H:%M:%S', time.localtime(since))}"
        text += f" ({duration(time.time() - since)})"
        if self.give_up_at is not None:
            text += f", giving up at {time.strftime('%H:%M:%S', time.localtime(self.give_up_at))}"
        return text

    def __rich__(self) -> Table:
        task = self.task or {}
        status = str(task.get("status", "?"))
        grid = Table.grid(padding=(0, 1))
        cells: list[Any] = [Text(f"task {self.task_id[:10]}…", style="dim"), Text(status, style=_STYLE.get(status, ""))]
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        progress = parse_progress(task.get("statusMessage"))
        message = str(task.get("statusMessage") or "")
        if progress is not None:
            done, total, message = progress
            grid.add_column(width=24, no_wrap=True)
            grid.add_column(no_wrap=True)
            cells += [ProgressBar(total=total, completed=done, width=24), Text(f"{done:g}/{total:g}")]
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        cells.append(Text(message))
        grid.add_column(no_wrap=True, justify="right")
        cells.append(Text(self._elapsed(), style="dim"))
        if self.unreachable_since is not None:
            grid.add_column(no_wrap=True)
            cells.append(Text(self._reconnecting(), style="yellow"))
        grid.add_row(*cells)
        return grid

    # -- showing it --

    def update(self, task_id: str, task: dict[str, Any] | None, unreachable_since: float | None = None) -> None:
        """A new view of the task (and of the connection); redraws, or prints a line if it changed."""
        self.task_id = task_id
        if task is not None:
            self.task = task
        was_unreachable = self.unreachable_since is not None
        self.unreachable_since = unreachable_since
        if self.quiet or self.task is None:
            return
        if self.tty:
            if self._live is None:
                self._live = Live(
                    self,
                    console=self.console,
                    refresh_per_second=8,
                    transient=True,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
                self._live.start()
            return
        key = (self.task.get("status"), self.task.get("statusMessage"), unreachable_since is not None)
        if key == self._last:
            return
        self._last = key
        if was_unreachable and unreachable_since is None:
            self.stream.write(f"task {self.task_id[:10]}… reconnected\n")
        self.stream.write(self.text() + "\n")
        self.stream.flush()

    def stop(self) -> None:
        """Take the line down (a prompt or the result comes next); the next `update` shows it again."""
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()

    def close(self) -> None:
        self.stop()
        self._remove_cleanup()

    async def follow(self, handle: Any) -> None:
        """Redraw from `handle.last` and `handle.client.unreachable_since` until cancelled."""
        client = handle.client
        while True:
            since = client.unreachable_since
            self.give_up_at = None if since is None else since + float(client.retry_for_s)
            if not self.paused:
                self.update(handle.task_id, handle.last, since)
            await anyio.sleep(0.1 if self.tty else 0.2)
