"""Replay: a retry-safe tool run again finds what it already asked and did, in order.

Every task keeps a journal in its store (`TaskStore.journal`): each answered input request
(`elicitation`, `sampling`, `roots`) with its answer, and the result of each durable `step`.
Entries are keyed by position: the n-th request or step a run makes gets the key
`<kind>-<n>` (`elicitation-2`, `step-3`), so a run that makes the same calls in the same order
makes the same keys. When the tool runs again (its instance died, a deploy handed it over, or an
answer woke a parked task), each call at a recorded position gets its recorded answer at once, a
request still open keeps the key the client already saw, and a call that differs from the record
stops the task: past that point the record no longer describes what the tool does.

Rules for tool authors (README "Durable approvals"): the tool must make the same requests and
steps, with the same parameters, up to its last recorded position; side effects belong inside
`step`, whose result is stored once (as JSON) and returned on replay without running again; code
outside steps runs again on every replay.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar, overload

T = TypeVar("T")

#: The owner of a task no instance holds in memory: it waits for input, and the first instance an
#: answer reaches resumes it by replay. It never heartbeats and is never declared dead, so
#: `claim_orphans` leaves such tasks alone (the runtime keeps its heartbeat in the far future).
PARKED_OWNER = "(parked)"
FOREVER_MS = 2**62


class Diverged(Exception):
    """The tool, run again, asked or did something else than the journal recorded at that position."""


def _comparable(params: Any) -> Any:
    """Request params as recorded: JSON values, without `_meta` (transport detail, not the question)."""
    if isinstance(params, dict):
        params = {k: v for k, v in params.items() if k != "_meta"}
    return json.loads(json.dumps(params, default=str))


def _position(key: str) -> int | None:
    tail = key.rpartition("-")[2]
    return int(tail) if tail.isdigit() else None


def input_key(method: str, position: int) -> str:
    """`elicitation/create` asked as the 2nd call of a run -> `elicitation-2`."""
    return f"{method.split('/')[0]}-{position}"


def step_key(position: int) -> str:
    return f"step-{position}"


class Replay:
    """One task's journal as a run consumes it, position by position."""

    __slots__ = ("_recorded",)

    def __init__(self, journal: dict[str, Any], open_requests: dict[str, Any]) -> None:
        recorded: dict[int, tuple[str, dict[str, Any]]] = {}
        for key, entry in {**open_requests, **journal}.items():
            position = _position(key)
            if position is not None and isinstance(entry, dict):
                recorded[position] = (key, entry)
        self._recorded = recorded

    def __len__(self) -> int:
        return len(self._recorded)

    def answer(self, key: str, value: Any) -> bool:
        """An answer to a recorded open request that arrived before the replay reached it."""
        position = _position(key)
        found = None if position is None else self._recorded.get(position)
        if found is None or found[0] != key or "answer" in found[1] or "step" in found[1]:
            return False
        found[1]["answer"] = value
        return True

    def recall_input(self, position: int, key: str, method: str, params: dict[str, Any]) -> tuple[bool, Any]:
        """`(True, answer)` for a request answered before; `(False, None)` for one still open or new.

        Raises `Diverged` when the record at this position is something else.
        """
        found = self._recorded.get(position)
        if found is None:
            return False, None
        recorded_key, entry = found
        if recorded_key != key or entry.get("method") != method:
            recorded = _describe(recorded_key, entry)
            raise Diverged(f"at call {position} it asked {method}, but the record has {recorded}")
        if _comparable(entry.get("params")) != _comparable(params):
            raise Diverged(f"at call {position} it asked {method} with other parameters than the recorded request")
        if "answer" in entry:
            return True, entry["answer"]
        return False, None

    def recall_step(self, position: int, name: str) -> tuple[bool, Any]:
        """`(True, result)` for a step that ran before; `(False, None)` for a new one."""
        found = self._recorded.get(position)
        if found is None:
            return False, None
        recorded_key, entry = found
        if recorded_key != step_key(position) or entry.get("step") != name:
            recorded = _describe(recorded_key, entry)
            raise Diverged(f"at call {position} it ran step {name!r}, but the record has {recorded}")
        return True, entry.get("result")


def _describe(key: str, entry: dict[str, Any]) -> str:
    if "step" in entry:
        return f"step {entry['step']!r}"
    return f"{entry.get('method', key)} ({key})"


def as_json(name: str, value: Any) -> Any:
    """`value` after one trip through JSON: what a replay will return, so both runs see the same."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"step {name!r} returned a value that cannot be stored as JSON: {exc}") from exc


class StepRunner(Protocol):
    """What `step` needs from the execution it runs in (runtime/execution.py implements it)."""

    async def run_step(self, name: str, fn: Callable[[], Awaitable[Any]]) -> Any: ...


#: The execution the current tool call runs in; None outside offload (the step then just runs).
current_runner: ContextVar[StepRunner | None] = ContextVar("offload_step_runner", default=None)


@overload
async def step(name: str, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T: ...


@overload
async def step(name: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T: ...


async def step(name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run `fn(*args, **kwargs)` once for this task: its result is stored, and a replay returns it.

    Use it for every side effect a retry-safe tool makes (a deployment, a charge, a message sent):
    after a crash, a deploy or a parked approval, the tool runs again from the start and each step
    already recorded returns its stored result without calling `fn`. `fn` may be a plain function
    or a coroutine function; its result must be JSON (the stored copy is what both runs see). A
    step that raises is not recorded, so it runs again next time. Outside a task (an inline call,
    or a tool called directly in a test), `fn` simply runs.
    """

    async def call() -> Any:
        value = fn(*args, **kwargs)
        return await value if inspect.isawaitable(value) else value

    runner = current_runner.get()
    if runner is None:
        return await call()
    return await runner.run_step(name, call)


__all__ = [
    "FOREVER_MS",
    "PARKED_OWNER",
    "Diverged",
    "Replay",
    "StepRunner",
    "as_json",
    "current_runner",
    "input_key",
    "step",
    "step_key",
]
