"""How a tool relates to tasks: declared per tool, with server-wide defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskMode = Literal["forbidden", "optional", "required", "auto"]
MODES: tuple[TaskMode, ...] = ("forbidden", "optional", "required", "auto")


@dataclass(frozen=True)
class TaskPolicy:
    """Per-tool task behaviour. `None` fields fall back to the server's defaults.

    - `forbidden`: always answered inline.
    - `optional`: a task whenever the request declared the extension.
    - `required`: always a task; a request without the extension gets -32021.
    - `auto`: starts inline and becomes a task if still running after `budget_s`.

    `retry` marks the tool safe to run again from the start when the instance running it
    died; otherwise such a task is marked failed. `max_attempts` bounds the runs. A retry-safe
    tool is run again by replay (runtime/replay.py): recorded answers and `offload.step` results
    come back without asking or acting twice. `park_after_s`: a retry-safe task that has waited
    this long for input is parked, held by no instance and resumed by replay wherever its
    answer arrives (None: never parked while its instance runs).

    `poll_interval_ms` is the interval suggested until the tool's durations are known; with
    `adaptive_polling`, suggestions then follow them, within `poll_min_ms`..`poll_max_ms`
    (`runtime/polling.py`). `offload_bytes`: a completed result larger than this has its large
    items stored as blobs and replaced by resource links (0 turns it off; `runtime/offload_result.py`).
    """

    mode: TaskMode = "forbidden"
    budget_s: float | None = None
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None
    input_timeout_s: float | None = None
    retry: bool = False
    max_attempts: int = 3
    poll_min_ms: int | None = None
    poll_max_ms: int | None = None
    adaptive_polling: bool | None = None
    offload_bytes: int | None = None
    park_after_s: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"task mode must be one of {MODES}, not {self.mode!r}")
        if self.budget_s is not None and self.budget_s < 0:
            raise ValueError("budget_s must be >= 0")
        if self.park_after_s is not None and self.park_after_s < 0:
            raise ValueError("park_after_s must be >= 0")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
