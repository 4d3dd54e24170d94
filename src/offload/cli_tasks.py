"""`offload call`, `offload task get|wait|cancel|answer` and `offload tasks`: the task-aware client in a shell.

Output goes to stdout (the result, or JSON a program parses); the live status line, prompts and errors go
to stderr. An error is one line, `offload: <message>`, and an exit code:

    0  success                      3  the server could not be reached
    1  the task failed, was cancelled, or the tool or server reported an error
    2  usage error                  4  the task is still running (--timeout ran out, or it needs input)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import anyio
import httpx2
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, ElicitRequestFormParams, ElicitRequestParams, ElicitResult, ErrorData

from offload.cli_read import add_read_parser
from offload.client import (
    InputUnhandled,
    Journal,
    RpcError,
    TaskClient,
    TaskError,
    TaskHandle,
    TaskTimeout,
    Unavailable,
    WireClient,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_PENDING = 4
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """Ends the command with `offload: <message>` on stderr and `code`."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _State:
    """What the error reporting needs to know about how far a command got."""

    url: str = ""
    tool: str | None = None
    task_id: str | None = None
    handle: TaskHandle | None = None
    interactive: bool = False
    finished: bool = False


# -- small pieces --


def default_journal() -> Path:
    """`$OFFLOAD_JOURNAL`, else `$XDG_STATE_HOME/offload/journal.db` (`~/.local/state/offload/journal.db`)."""
    env = os.environ.get("OFFLOAD_JOURNAL")
    if env:
        return Path(env).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "offload" / "journal.db"


def _journal_path(args: argparse.Namespace) -> Path:
    return Path(args.journal).expanduser() if args.journal else default_journal()


def _open_journal(path: Path) -> Journal:
    try:
        return Journal(path)
    except (OSError, ValueError, sqlite3.Error) as exc:
        raise CliError(f"cannot open the journal {path}: {exc}") from exc


def _journal_entry_for(args: argparse.Namespace, task_id: str) -> Journal | None:
    """The journal, open, if it already knows this task (task commands never add entries)."""
    path = _journal_path(args)
    if not path.exists():
        return None
    try:
        journal = Journal(path)
    except Exception:
        return None
    if journal.get(args.url, task_id) is None:
        journal.close()
        return None
    return journal


def parse_pairs(pairs: list[str], *, strict: bool, what: str) -> dict[str, Any]:
    """`key=value` words: the value as JSON when it parses (`n=3` -> 3), else (unless `strict`) a string."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CliError(f"{what}: expected KEY=VALUE, got {pair!r}", EXIT_USAGE)
        try:
            out[key] = json.loads(raw)
        except ValueError:
            if strict:
                raise CliError(f"{what}: the value of {key!r} is not JSON: {raw!r}", EXIT_USAGE) from None
            out[key] = raw
    return out


def parse_object(raw: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise CliError(f"{what}: not valid JSON ({exc})", EXIT_USAGE) from None
    if not isinstance(value, dict):
        raise CliError(f"{what}: expected a JSON object, got {type(value).__name__}", EXIT_USAGE)
    return value


def _check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise CliError(f"URL must start with http:// or https://, got {url!r}", EXIT_USAGE)


def _wants_json(args: argparse.Namespace) -> bool:
    return bool(args.global_json or getattr(args, "json_out", False) or getattr(args, "output", "text") == "json")


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False), flush=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 80
    return columns if columns > 0 else 80


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    return f"{int(seconds // 86400)}d{int(seconds % 86400 // 3600):02d}h"


def _epoch(iso: Any) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def render_result(result: dict[str, Any]) -> str:
    """A CallToolResult for people: its text content joined; other blocks as a short placeholder."""
    parts: list[str] = []
    for block in result.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} {block.get('mimeType', '')}, {len(block.get('data', '')) * 3 // 4} bytes]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.get('uri', '')}]")
        elif kind == "resource":
            resource = block.get("resource") or {}
            parts.append(str(resource.get("text") or f"[resource {resource.get('uri', '')}]"))
    if not parts and result.get("structuredContent") is not None:
        parts.append(json.dumps(result["structuredContent"], indent=2, ensure_ascii=False))
    return "\n".join(parts)


def _dump(result: CallToolResult) -> dict[str, Any]:
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


# -- the live status line --


class StatusLine:
    """One line on stderr: rewritten in place on a terminal, a plain line per change elsewhere."""

    def __init__(self, stream: TextIO, *, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = _isatty(stream)
        self.paused = False
        self._shown = False
        self._last: tuple[Any, ...] | None = None
        self._t0 = time.time()

    def text(self, task_id: str, task: dict[str, Any]) -> str:
        started = _epoch(task.get("createdAt")) or self._t0
        line = f"task {task_id[:10]}… {task.get('status', '?')} {_duration(time.time() - started)}"
        message = task.get("statusMessage")
        return f"{line}  {message}" if message else line

    def update(self, task_id: str, task: dict[str, Any] | None) -> None:
        if self.quiet or self.paused or task is None:
            return
        if self.tty:
            text = self.text(task_id, task)[: max(_width(self.stream) - 1, 10)]
            self.stream.write("\r" + text + "\x1b[K")
            self._shown = True
        else:
            key = (task.get("status"), task.get("statusMessage"))
            if key == self._last:
                return
            self._last = key
            self.stream.write(self.text(task_id, task) + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    async def run(self, handle: TaskHandle) -> None:
        while True:
            self.update(handle.task_id, handle.last)
            await anyio.sleep(0.1 if self.tty else 0.2)


# -- asking the user (elicitation) --


class _Cancelled(Exception):
    pass


class Prompter:
    """Answers `elicitation/create` at the terminal: the message, then one prompt per field."""

    def __init__(self, line: StatusLine, stdin: TextIO, out: TextIO) -> None:
        self.line = line
        self.stdin = stdin
        self.out = out

    async def elicit(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        # Blocking reads on purpose: the loop (and the status line) pause while the user types, and
        # Ctrl-C interrupts the read at once.
        self.line.clear()
        self.line.paused = True
        try:
            return self._ask(params)
        except _Cancelled:
            return ElicitResult(action="cancel")
        finally:
            self.line.paused = False

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _read(self, prompt: str) -> str:
        self.out.write(prompt)
        self.out.flush()
        line = self.stdin.readline()
        if not line:
            self._say("")
            raise _Cancelled
        return line.strip()

    def _ask(self, params: ElicitRequestParams) -> ElicitResult:
        self._say(f"\n? {params.message}")
        if not isinstance(params, ElicitRequestFormParams):
            self._say(f"  open: {params.url}")
            choice = self._read("  Done? [Y]es (accept) / [n]o (decline) / [c]ancel: ").lower()
        else:
            choice = self._read("  Answer? [Y]es / [n]o (decline) / [c]ancel: ").lower()
        if choice in ("n", "no", "d", "decline"):
            return ElicitResult(action="decline")
        if choice in ("c", "cancel"):
            return ElicitResult(action="cancel")
        if not isinstance(params, ElicitRequestFormParams):
            return ElicitResult(action="accept")
        schema = params.requested_schema or {}
        required = set(schema.get("required") or [])
        content: dict[str, Any] = {}
        for name, field in (schema.get("properties") or {}).items():
            value = self._field(name, field if isinstance(field, dict) else {}, name in required)
            if value is not _OMIT:
                content[name] = value
        return ElicitResult(action="accept", content=content)

    def _field(self, name: str, schema: dict[str, Any], required: bool) -> Any:
        choices, labels = _choices(schema)
        kind = schema.get("type")
        hint = []
        if choices:
            hint.append(" / ".join(f"{i}) {label}" for i, label in enumerate(labels, 1)))
        elif kind in ("boolean", "integer", "number"):
            hint.append("yes/no" if kind == "boolean" else kind)
        if "default" in schema:
            hint.append(f"default {json.dumps(schema['default'])}")
        if not required:
            hint.append("optional")
        title = schema.get("title") or name
        if schema.get("description"):
            self._say(f"  {schema['description']}")
        prompt = f"  {title}" + (f" ({'; '.join(hint)})" if hint else "") + ": "
        while True:
            raw = self._read(prompt)
            if raw == "":
                if "default" in schema:
                    return schema["default"]
                if not required:
                    return _OMIT
                self._say("  an answer is required (Ctrl-D cancels)")
                continue
            try:
                return _convert(raw, schema, choices)
            except ValueError as exc:
                self._say(f"  {exc}")


_OMIT: Any = object()


def _choices(schema: dict[str, Any]) -> tuple[list[Any], list[str]]:
    items = schema.get("items") if schema.get("type") == "array" else None
    source = items if isinstance(items, dict) else schema
    if "enum" in source:
        values = list(source["enum"])
        names = source.get("enumNames") or values
        return values, [str(n) for n in names]
    options = [o for o in (source.get("oneOf") or source.get("anyOf") or []) if isinstance(o, dict) and "const" in o]
    return [o["const"] for o in options], [str(o.get("title") or o["const"]) for o in options]


def _convert(raw: str, schema: dict[str, Any], choices: list[Any]) -> Any:
    kind = schema.get("type")
    if kind == "array":
        return [_pick(part.strip(), choices) if choices else part.strip() for part in raw.split(",") if part.strip()]
    if choices:
        return _pick(raw, choices)
    if kind == "boolean":
        if raw.lower() in ("y", "yes", "true", "1"):
            return True
        if raw.lower() in ("n", "no", "false", "0"):
            return False
        raise ValueError("answer yes or no")
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if kind == "number":
        try:
            return int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
    return raw


def _pick(raw: str, choices: list[Any]) -> Any:
    for value in choices:
        if str(value) == raw:
            return value
    if raw.isdigit() and 1 <= int(raw) <= len(choices):
        return choices[int(raw) - 1]
    raise ValueError(f"pick one of: {', '.join(str(c) for c in choices)}")


# -- following a task --


async def _follow(handle: TaskHandle, line: StatusLine, timeout: float | None) -> dict[str, Any]:
    """Wait for a terminal status with the status line ticking beside it."""
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(line.run, handle)
            task = await handle.wait(timeout)
            tg.cancel_scope.cancel()
        line.update(handle.task_id, task)
        return task
    finally:
        line.clear()


def _finish(task: dict[str, Any], *, as_json: bool, whole_task: bool, label: str | None = None) -> int:
    """Print a terminal task's outcome: the result, or an error line. `whole_task`: JSON is the task."""
    task_id = task.get("taskId", "?")
    label = label or f"task {task_id}"
    status = task.get("status")
    if as_json and whole_task:
        _print_json(task)
    if status == "completed":
        result = task.get("result") or {"content": []}
        if as_json and not whole_task:
            _print_json(result)
        elif not as_json:
            text = render_result(result)
            if text:
                print(text, flush=True)
        if result.get("isError"):
            raise CliError(f"{label} completed with a tool error (isError)")
        return EXIT_OK
    if status == "failed":
        error = task.get("error") or {}
        detail = f"{error.get('message', '')} (JSON-RPC error {error.get('code', '?')})" if error else ""
        detail = detail or task.get("statusMessage") or "no error recorded"
        raise CliError(f"task {task_id} failed: {detail}")
    message = task.get("statusMessage")
    raise CliError(f"task {task_id} was cancelled" + (f": {message}" if message else ""))


def _input_hint(state: _State, exc: InputUnhandled) -> str:
    """One line: what the task asks, and the `offload task answer` command that answers it."""
    handle = state.handle
    task_id = exc.task_id or (handle.task_id if handle else "?")
    requests = (handle.last or {}).get("inputRequests") or {} if handle else {}
    pending = {k: v for k, v in requests.items() if not handle or k not in handle.answered}
    if not pending:
        return f"task {task_id} needs input: {exc}"
    key, request = next(iter(pending.items()))
    method = request.get("method", "?")
    params = request.get("params") or {}
    asks = f'{key}: "{params["message"]}"' if params.get("message") else f"{key}: {method}"
    more = f" and {len(pending) - 1} more" if len(pending) > 1 else ""
    why = "stdin is not a terminal" if not state.interactive else f"offload cannot answer {method} itself"
    if method == "elicitation/create":
        fields = (params.get("requestedSchema") or {}).get("properties") or {}
        example = json.dumps({"action": "accept", "content": dict.fromkeys(fields, "...")}, separators=(",", ":"))
    else:
        example = "JSON"
    command = f"offload task answer {shlex.quote(state.url)} {task_id} {shlex.quote(f'{key}={example}')}"
    return f"task {task_id} needs input ({asks}{more}); {why}, so answer it with: {command}"


# -- error reporting --


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _explain(exc: BaseException, state: _State) -> tuple[int, str]:
    leaves = [e for e in _leaves(exc) if not isinstance(e, asyncio.CancelledError)] or [exc]
    order = (CliError, InputUnhandled, TaskTimeout, TaskError, httpx2.TransportError, Unavailable, RpcError, MCPError)
    leaves.sort(key=lambda e: next((i for i, kind in enumerate(order) if isinstance(e, kind)), len(order)))
    err = leaves[0]
    task_id = state.handle.task_id if state.handle else None
    still = (
        f"; it keeps running: offload task wait {shlex.quote(state.url)} {task_id}"
        if task_id and not state.finished
        else ""
    )
    if isinstance(err, CliError):
        return err.code, str(err)
    if isinstance(err, InputUnhandled):
        return EXIT_PENDING, _input_hint(state, err)
    if isinstance(err, TaskTimeout):
        return EXIT_PENDING, f"{err}{still}"
    if isinstance(err, TaskError):
        return EXIT_FAILED, str(err)
    if isinstance(err, httpx2.TransportError):
        detail = str(err) or type(err).__name__
        return EXIT_UNREACHABLE, f"cannot reach {state.url}: {detail}{still}"
    if isinstance(err, Unavailable):
        return EXIT_UNREACHABLE, f"{state.url} is unavailable ({err}){still}"
    if isinstance(err, RpcError):
        if err.http_status is not None and err.http_status >= 400 and err.code == -32603:
            return EXIT_UNREACHABLE, f"{state.url} did not answer as an MCP server: {err.message}"
        return EXIT_FAILED, f"task {state.task_id}: {err}" if state.task_id else str(err)
    if isinstance(err, MCPError):
        what = f"{state.tool}: " if state.tool else ""
        if not state.interactive and "not supported" in err.error.message.lower():
            return EXIT_FAILED, (
                f"{what}the tool asked for input before starting ({err.error.message}) and stdin is not a "
                "terminal; run the command in a terminal to answer it"
            )
        hint = f" (is {state.url} the server's MCP endpoint?)" if err.error.code == -32601 else ""
        return EXIT_FAILED, f"{what}{err.error.message} (JSON-RPC error {err.error.code}){hint}"
    return EXIT_FAILED, f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _run(command: Callable[[argparse.Namespace, _State], Awaitable[int]], args: argparse.Namespace) -> int:
    """Run one async command; turn every way it can end into an exit code and at most one error line."""
    state = _State(url=getattr(args, "url", ""), task_id=getattr(args, "task_id", None))
    try:
        if state.url:
            _check_url(state.url)
        return anyio.run(command, args, state)
    except KeyboardInterrupt:
        handle = state.handle
        if _isatty(sys.stderr):
            sys.stderr.write("\n")  # end the line the terminal echoed ^C on
        if handle is not None and not state.finished:
            _error(f"interrupted; task {handle.task_id} keeps running: offload task wait {state.url} {handle.task_id}")
        else:
            _error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("OFFLOAD_DEBUG"):
            raise
        try:
            code, message = _explain(exc, state)
        except Exception:  # never let the error report itself end in a traceback
            code, message = EXIT_FAILED, f"{type(exc).__name__}: {exc}"
        _error(message)
        return code


def _error(message: str) -> None:
    sys.stderr.write(f"offload: {' '.join(message.split())}\n")
    sys.stderr.flush()


# -- commands --


async def _call(args: argparse.Namespace, state: _State) -> int:
    arguments = parse_object(args.json_args, "--json") if args.json_args is not None else {}
    arguments.update(parse_pairs(args.pairs, strict=False, what="arguments"))
    as_json = _wants_json(args)
    state.tool = args.tool
    state.interactive = _isatty(sys.stdin)  # also for --detach: a tool may ask before it becomes a task
    line = StatusLine(sys.stderr, quiet=args.quiet)
    prompter = Prompter(line, sys.stdin, sys.stderr) if state.interactive else None
    journal = _open_journal(_journal_path(args))
    client = TaskClient(
        args.url, token=args.token, journal=journal, elicitation_callback=prompter.elicit if prompter else None
    )
    async with client:
        started = await client.start_tool(args.tool, arguments)
        if isinstance(started, CallToolResult):
            state.finished = True
            result = _dump(started)
            outcome = {"status": "completed", "result": result}
            return _finish(outcome, as_json=as_json, whole_task=False, label=args.tool)
        state.handle = started
        if args.detach:
            if as_json:
                _print_json({"resultType": "task", **(started.last or {"taskId": started.task_id})})
            else:
                print(started.task_id, flush=True)
            return EXIT_OK
        task = await _follow(started, line, args.timeout)
        state.finished = True
        return _finish(task, as_json=as_json, whole_task=False)


async def _task_get(args: argparse.Namespace, state: _State) -> int:
    async with WireClient(args.url, token=args.token) as wire:
        task = await wire.result("tasks/get", {"taskId": args.task_id})
    _journal_observe(args, task)
    if _wants_json(args):
        _print_json(task)
    else:
        print(_describe(task, args.url), flush=True)
    return EXIT_OK


async def _task_wait(args: argparse.Namespace, state: _State) -> int:
    as_json = _wants_json(args)
    state.interactive = _isatty(sys.stdin)
    line = StatusLine(sys.stderr, quiet=args.quiet)
    prompter = Prompter(line, sys.stdin, sys.stderr) if state.interactive else None
    journal = _journal_entry_for(args, args.task_id)
    client = TaskClient(
        args.url, token=args.token, journal=journal, elicitation_callback=prompter.elicit if prompter else None
    )
    async with client:
        # One direct request first, so a wrong URL or task id fails at once instead of being retried.
        first = await client.wire.result("tasks/get", {"taskId": args.task_id})
        state.handle = handle = TaskHandle(client, args.task_id, first)
        task = await _follow(handle, line, args.timeout)
        state.finished = True
        if journal is not None:
            journal.observed(args.url, args.task_id, task["status"], task.get("statusMessage"))
    return _finish(task, as_json=as_json, whole_task=True)


async def _task_cancel(args: argparse.Namespace, state: _State) -> int:
    async with WireClient(args.url, token=args.token) as wire:
        ack = await wire.result("tasks/cancel", {"taskId": args.task_id})
    if _wants_json(args):
        _print_json(ack)
    else:
        print(f"cancellation requested for task {args.task_id}", flush=True)
    return EXIT_OK


async def _task_answer(args: argparse.Namespace, state: _State) -> int:
    responses = parse_object(args.json_responses, "--json") if args.json_responses is not None else {}
    responses.update(parse_pairs(args.pairs, strict=True, what="answers"))
    if not responses:
        raise CliError("nothing to answer: give KEY=JSON pairs or --json '{\"KEY\": {...}}'", EXIT_USAGE)
    async with WireClient(args.url, token=args.token) as wire:
        ack = await wire.result("tasks/update", {"taskId": args.task_id, "inputResponses": responses})
    journal = _journal_entry_for(args, args.task_id)
    if journal is not None:
        journal.answered(args.url, args.task_id, list(responses))
        journal.close()
    if _wants_json(args):
        _print_json(ack)
    else:
        print(f"sent {', '.join(responses)} to task {args.task_id}", flush=True)
    return EXIT_OK


def _journal_observe(args: argparse.Namespace, task: dict[str, Any]) -> None:
    journal = _journal_entry_for(args, args.task_id)
    if journal is not None and isinstance(task.get("status"), str):
        journal.observed(args.url, args.task_id, task["status"], task.get("statusMessage"))
        journal.close()


def _describe(task: dict[str, Any], url: str) -> str:
    """tasks/get for people."""
    rows: list[tuple[str, str]] = [("task", str(task.get("taskId"))), ("status", str(task.get("status")))]
    if task.get("statusMessage"):
        rows.append(("message", str(task["statusMessage"])))
    created = _epoch(task.get("createdAt"))
    if created is not None:
        rows.append(("created", f"{task['createdAt']} ({_duration(time.time() - created)} ago)"))
    if task.get("lastUpdatedAt"):
        rows.append(("updated", str(task["lastUpdatedAt"])))
    if task.get("ttlMs") is not None:
        rows.append(("ttl", _duration(task["ttlMs"] / 1000)))
    for key, request in (task.get("inputRequests") or {}).items():
        params = request.get("params") or {}
        fields = ", ".join((params.get("requestedSchema") or {}).get("properties") or {})
        asks = f'{request.get("method", "?")} "{params.get("message", "")}"' + (
            f" (fields: {fields})" if fields else ""
        )
        rows.append(("input", f"{key}: {asks}"))
    if task.get("inputRequests"):
        rows.append(("answer", f"offload task answer {shlex.quote(url)} {task.get('taskId')} KEY=JSON"))
    if task.get("status") == "completed":
        rows.append(("result", render_result(task.get("result") or {})))
    if task.get("error"):
        error = task["error"]
        rows.append(("error", f"{error.get('message', '')} (JSON-RPC error {error.get('code', '?')})"))
    return "\n".join(f"{name:<8} {value}" for name, value in rows)


def _tasks(args: argparse.Namespace) -> int:
    """`offload tasks`: the journal's entries, without asking any server."""
    path = _journal_path(args)
    try:
        if path.exists():
            journal = _open_journal(path)
            try:
                entries = journal.entries(args.server, unfinished=not args.all)
            finally:
                journal.close()
        else:
            entries = []
        if _wants_json(args):
            _print_json([e.as_dict() for e in entries])
            return EXIT_OK
        if not entries:
            what = "tasks" if args.all else "unfinished tasks"
            print(f"no {what} in {path}", file=sys.stderr, flush=True)
            return EXIT_OK
        now = time.time()
        rows = [("SERVER", "TASK ID", "TOOL", "STATUS", "MESSAGE", "AGE")]
        for e in entries:
            message = e.status_message or ""
            message = message if len(message) <= 40 else message[:39] + "…"
            rows.append((e.server, e.task_id, e.tool or "-", e.status, message or "-", _duration(now - e.started_at)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), flush=True)
        return EXIT_OK
    except CliError as exc:
        _error(str(exc))
        return exc.code
    except Exception as exc:
        if os.environ.get("OFFLOAD_DEBUG"):
            raise
        _error(f"cannot read the journal {path}: {exc}")
        return EXIT_FAILED


# -- argparse --


_DASHED_ID = re.compile(r"-[A-Za-z0-9_-]{15,}")
_LITERAL = "\x00"  # marks a word argparse must take as a value, removed after parsing


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """`parser.parse_args`, with two allowances for the client commands.

    KEY=VALUE words may also follow options (`call URL TOOL --detach n=3`), and after `task`, a task id that
    starts with `-` (ids are URL-safe base64) is a task id, not an unknown option.
    """
    words = list(sys.argv[1:] if argv is None else argv)
    if "task" in words:
        options = _option_strings(parser)
        start = words.index("task") + 1
        words[start:] = [
            _LITERAL + w if _DASHED_ID.fullmatch(w) and not any(o.startswith(w) for o in options) else w
            for w in words[start:]
        ]
    args, extra = parser.parse_known_args(words)
    if extra:
        if isinstance(getattr(args, "pairs", None), list) and not any(word.startswith("-") for word in extra):
            args.pairs.extend(extra)
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    for name, value in vars(args).items():
        if isinstance(value, str):
            setattr(args, name, value.removeprefix(_LITERAL))
        elif isinstance(value, list):
            setattr(args, name, [v.removeprefix(_LITERAL) if isinstance(v, str) else v for v in value])
    return args


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _option_strings(sub)
    return found


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token",
        default=os.environ.get("OFFLOAD_TOKEN"),
        help="bearer token for the server (default: $OFFLOAD_TOKEN)",
    )
    parser.add_argument(
        "--journal",
        metavar="PATH",
        help="client journal (default: $OFFLOAD_JOURNAL or ~/.local/state/offload/journal.db)",
    )


def add_client_commands(sub: Any) -> None:
    """`call`, `task` and `tasks` on the `offload` parser's subparsers."""
    call = sub.add_parser(
        "call",
        help="call a tool; follow the task it starts to its end (or --detach)",
        description="Call a tool with key=value arguments (values parsed as JSON when they parse). A task is "
        "followed to its end with a status line on stderr, then the result is printed.",
    )
    call.add_argument("url", metavar="URL", help="the server's MCP endpoint, e.g. http://127.0.0.1:8000/mcp")
    call.add_argument("tool", metavar="TOOL")
    call.add_argument("pairs", nargs="*", metavar="KEY=VALUE", help="an argument (VALUE as JSON when it parses)")
    call.add_argument("--json", dest="json_args", metavar="ARGS", help="the whole argument object as JSON")
    call.add_argument("--detach", action="store_true", help="print the task id and exit; the task keeps running")
    call.add_argument("--output", choices=("text", "json"), default="text", help="json: the full CallToolResult")
    call.add_argument("--timeout", type=float, metavar="S", help="give up waiting after S seconds (exit 4)")
    call.add_argument("-q", "--quiet", action="store_true", help="no status line")
    _connection_options(call)
    call.set_defaults(func=lambda a: _run(_call, a))

    task = sub.add_parser("task", help="one task by id: get, wait, cancel, answer")
    task_sub = task.add_subparsers(dest="task_command", required=True)

    def task_parser(name: str, help: str, func: Callable[[argparse.Namespace, _State], Awaitable[int]]) -> Any:
        p = task_sub.add_parser(name, help=help)
        p.add_argument("url", metavar="URL")
        p.add_argument("task_id", metavar="TASK_ID")
        _connection_options(p)
        p.set_defaults(func=lambda a: _run(func, a))
        return p

    p = task_parser("get", "tasks/get: the task's status, input requests, result", _task_get)
    p.add_argument("--json", dest="json_out", action="store_true", help="print the task as tasks/get returned it")
    p = task_parser("wait", "follow the task to its end; print the result", _task_wait)
    p.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds (exit 4)")
    p.add_argument("-q", "--quiet", action="store_true", help="no status line")
    p.add_argument("--json", dest="json_out", action="store_true", help="print the final task as JSON")
    p = task_parser("cancel", "tasks/cancel", _task_cancel)
    p.add_argument("--json", dest="json_out", action="store_true", help="print the server's answer as JSON")
    p = task_parser("answer", "tasks/update: answer the task's inputRequests", _task_answer)
    p.add_argument("pairs", nargs="*", metavar="KEY=JSON", help="an inputRequests key and its answer")
    p.add_argument("--json", dest="json_responses", metavar="OBJECT", help="the whole inputResponses object")
    add_read_parser(task_sub)  # `offload task read` (cli_read.py): offloaded result items, whole or in ranges

    tasks = sub.add_parser("tasks", help="list the tasks in the client journal (unfinished by default)")
    tasks.add_argument(
        "--journal", metavar="PATH", help="default: $OFFLOAD_JOURNAL or ~/.local/state/offload/journal.db"
    )
    tasks.add_argument("--all", action="store_true", help="finished tasks too")
    tasks.add_argument("--server", metavar="URL", help="only this server's tasks")
    tasks.add_argument("--json", dest="json_out", action="store_true", help="print the entries as JSON")
    tasks.set_defaults(func=_tasks)
