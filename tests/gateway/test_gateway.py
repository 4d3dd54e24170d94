"""`offload gateway` end to end: real gateway processes in front of real, unchanged MCP servers.

Upstreams: tests/servers/gateway_upstream.py (an SDK server, 2025-11-25-only with `--legacy`, over
stdio or HTTP) and the official `@modelcontextprotocol/server-everything` from npm over stdio.
Downstream: the raw 2026-07-28 client of tests/helpers.py, plus the SDK client in legacy mode.
Upstream tools that must be observed wait for gate files and write marker files, so no assertion
depends on timing; the deadlines are generous.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client import Client as SdkClient
from mcp.client.session import ClientRequestContext

from helpers import (
    DEADLINE_S,
    OFFLOAD,
    SERVERS,
    TERMINAL,
    Client,
    elicit_accept,
    free_port,
    meta,
    text_of,
    wait_listening,
    wait_until,
)
from npm_upstreams import everything

UPSTREAM = str(SERVERS / "gateway_upstream.py")
LEGACY_UPSTREAM = f"{sys.executable} {UPSTREAM} --legacy"
MODERN_UPSTREAM = f"{sys.executable} {UPSTREAM}"

# Fast tools keep a long budget so a slow machine never turns them into tasks; everything that must
# become a task blocks on a gate file, so the default 0.3 s budget is only a lower bound.
BASE_CONFIG = """
budget_s = 0.3
poll_interval_ms = 200

[tools.quick]
mode = "auto"
budget_s = 15

[tools.fail]
mode = "required"
"""


class Gateway:
    """`offload gateway ... --port N --store sqlite:///<db>` as a subprocess."""

    def __init__(self, workdir: Path, args: Sequence[str], *, config: str = BASE_CONFIG) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.log_path = workdir / "gateway.log"
        (workdir / "gateway.toml").write_text(config)
        cmd = [OFFLOAD, "gateway", "--config", str(workdir / "gateway.toml"), *args]
        cmd += ["--port", str(self.port), "--store", f"sqlite:///{workdir / 'tasks.db'}"]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            wait_listening(self.proc, self.port, self.log, what="the gateway")
        except BaseException:
            self.stop()
            raise

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def client(self, **kw: Any) -> Client:
        return Client(self.url, **kw)

    def kill(self) -> None:
        """SIGKILL, as in a crash: no shutdown hook runs, leases are not released."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=DEADLINE_S)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=DEADLINE_S)
        self._log.close()


@pytest.fixture(scope="module")
def legacy_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The gateway in front of a 2025-11-25-only SDK server over stdio (the common case in the wild)."""
    gw = Gateway(tmp_path_factory.mktemp("gw-legacy"), ["--upstream", LEGACY_UPSTREAM])
    yield gw
    gw.stop()


@pytest.fixture
def gc(legacy_gateway: Gateway) -> Iterator[Client]:
    c = legacy_gateway.client()
    yield c
    c.close()


def touch(path: str) -> None:
    Path(path).write_text("go")


def result_of(c: Client, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """The CallToolResult, whether it came inline or (budget elapsed) as a task."""
    result = c.call(tool, arguments)
    if result.get("resultType") == "task":
        task = c.wait_for(result["taskId"])
        assert task["status"] == "completed", task
        return dict(task["result"])
    return result


def read_resource(c: Client, uri: str) -> dict[str, Any]:
    return c.request("resources/read", {"uri": uri}, name=uri)


# -- passthrough --


def test_tools_resources_and_prompts_pass_through(gc: Client) -> None:
    names = {t["name"] for t in gc.request("tools/list")["tools"]}
    assert {"quick", "slow", "approve", "hang", "crash", "add_tool"} <= names
    slow = next(t for t in gc.request("tools/list")["tools"] if t["name"] == "slow")
    assert slow["inputSchema"]["required"] == ["steps", "marker"]

    assert [r["uri"] for r in gc.request("resources/list")["resources"]] == ["note://hello"]
    assert read_resource(gc, "note://hello")["contents"][0]["text"] == "hello from upstream"
    templates = gc.request("resources/templates/list")["resourceTemplates"]
    assert [t["uriTemplate"] for t in templates] == ["note://item/{item}"]
    assert read_resource(gc, "note://item/7")["contents"][0]["text"] == "item 7"

    assert [p["name"] for p in gc.request("prompts/list")["prompts"]] == ["greet"]
    prompt = gc.request("prompts/get", {"name": "greet", "arguments": {"name": "Ada"}})
    assert prompt["messages"][0]["content"]["text"] == "Say hello to Ada."


def test_a_fast_call_is_answered_inline(gc: Client) -> None:
    result = gc.call("quick", {"x": 7})
    assert result.get("resultType") == "complete", result
    assert text_of(result) == "quick:7"
    # The upstream's own serverInfo stamp does not leak through; the gateway's is there.
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "offload-gateway"


def test_an_upstream_json_rpc_error_fails_the_task(gc: Client) -> None:
    task_id = gc.start_task("fail", {"message": "disk full"})  # mode = "required" in the config
    task = gc.wait_for(task_id)
    assert task["status"] == "failed"
    assert task["error"]["code"] == -32099
    assert task["error"]["message"] == "disk full"


def test_an_unknown_tool_is_an_error(gc: Client) -> None:
    reply = gc.message("tools/call", {"name": "no-such-tool", "arguments": {}})
    error = reply.get("error") or {}
    result = reply.get("result") or {}
    assert error or result.get("isError") or result.get("resultType") == "task", reply


# -- a slow call becomes a task; progress is its statusMessage --


def test_slow_upstream_call_becomes_a_task_with_progress_as_status_message(gc: Client, marker: str) -> None:
    created = gc.call("slow", {"steps": 2, "marker": marker})
    assert created["resultType"] == "task", created
    task_id = created["taskId"]
    gc.wait_until_task(task_id, lambda t: t.get("statusMessage") == "step 1/2", "statusMessage 'step 1/2'")
    touch(f"{marker}.go1")
    gc.wait_until_task(task_id, lambda t: t.get("statusMessage") == "step 2/2", "statusMessage 'step 2/2'")
    touch(f"{marker}.go2")
    done = gc.wait_for(task_id)
    assert done["status"] == "completed", done
    assert text_of(done["result"]) == "slow done after 2 steps"
    assert done["result"]["structuredContent"] == {"result": "slow done after 2 steps"}


def test_a_caller_without_the_extension_gets_the_result_inline(gc: Client, marker: str) -> None:
    def open_gates() -> None:
        wait_until(lambda: Path(f"{marker}.started").exists(), what="the upstream tool to start")
        touch(f"{marker}.go1")

    opener = threading.Thread(target=open_gates, daemon=True)
    opener.start()
    result = gc.call("slow", {"steps": 1, "marker": marker}, ext=False)
    opener.join()
    assert result.get("resultType") == "complete", result
    assert text_of(result) == "slow done after 1 steps"


# -- elicitation through tasks/update --


def test_upstream_elicitation_round_trips_through_tasks_update(gc: Client, marker: str) -> None:
    task_id = gc.start_task("approve", {"change": "v2", "marker": marker})
    touch(f"{marker}.go")
    task = gc.wait_for(task_id, ("input_required",))
    [(key, request)] = task["inputRequests"].items()
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == "Approve v2?"
    # The upstream's requestedSchema arrives unchanged (pydantic's schema of its `Approval` model).
    assert request["params"]["requestedSchema"] == {
        "properties": {
            "approve": {"title": "Approve", "type": "boolean"},
            "note": {"default": "", "title": "Note", "type": "string"},
        },
        "required": ["approve"],
        "title": "Approval",
        "type": "object",
    }
    gc.update(task_id, {key: elicit_accept(approve=True, note="lgtm")})
    done = gc.wait_for(task_id)
    assert done["status"] == "completed", done
    assert text_of(done["result"]) == "v2: approved (lgtm)"


def test_a_declined_elicitation_reaches_the_upstream(gc: Client, marker: str) -> None:
    task_id = gc.start_task("approve", {"change": "v3", "marker": marker})
    touch(f"{marker}.go")
    [key] = gc.wait_for(task_id, ("input_required",))["inputRequests"]
    gc.update(task_id, {key: {"action": "decline"}})
    assert text_of(gc.wait_for(task_id)["result"]) == "v3: decline"


def test_elicitation_with_two_calls_in_flight_is_refused_clearly(gc: Client, tmp_path: Path) -> None:
    """2025-11-25 limit: a server-to-client request does not name its call; with two in flight it is refused."""
    other = gc.start_task("hang", {"marker": str(tmp_path / "other")})
    wait_until(lambda: (tmp_path / "other.started").exists(), what="the first call to start upstream")
    asker = gc.start_task("approve", {"change": "v4", "marker": str(tmp_path / "ask")})
    touch(str(tmp_path / "ask.go"))
    task = gc.wait_for(asker)
    assert task["status"] == "failed", task
    assert "cannot route elicitation/create" in task["statusMessage"]
    assert "2 tools/call requests are in flight" in task["statusMessage"]
    gc.cancel(other)
    assert gc.wait_for(other)["status"] == "cancelled"


# -- cancellation reaches the upstream --


def test_tasks_cancel_cancels_the_upstream_request(gc: Client, marker: str) -> None:
    task_id = gc.start_task("hang", {"marker": marker})
    wait_until(lambda: Path(f"{marker}.started").exists(), what="the upstream tool to start")
    assert gc.cancel(task_id)["resultType"] == "complete"
    assert gc.wait_for(task_id)["status"] == "cancelled"
    # notifications/cancelled reached the upstream server, whose tool ran its finally: block.
    wait_until(lambda: Path(f"{marker}.cancelled").exists(), what="the upstream to record the cancellation")


# -- list changes are followed --


def test_upstream_list_changes_are_followed(gc: Client) -> None:
    name = f"extra_{uuid.uuid4().hex[:8]}"
    assert gc.request("tools/list")["tools"]  # cached now
    assert text_of(result_of(gc, "add_tool", {"name": name})) == f"added {name}"
    wait_until(
        lambda: name in {t["name"] for t in gc.request("tools/list")["tools"]},
        what=f"tools/list to show {name} after notifications/tools/list_changed",
    )
    assert text_of(result_of(gc, name)) == f"{name} is here"


def test_upstream_list_changes_reach_the_gateways_listen_streams(legacy_gateway: Gateway) -> None:
    name = f"heard_{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        with anyio.fail_after(DEADLINE_S * 2):
            async with SdkClient(legacy_gateway.url, mode="2026-07-28") as client:
                async with client.listen(tools_list_changed=True) as sub:
                    await client.call_tool("add_tool", {"name": name})
                    event = await sub.__anext__()
                    assert type(event).__name__ == "ToolsListChanged", event
                assert name in {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}

    anyio.run(run)


# -- a 2025-11-25 caller (SDK client, initialize handshake) through the gateway --


def test_a_legacy_sdk_client_gets_elicitation_and_progress_on_its_own_stream(
    legacy_gateway: Gateway, marker: str
) -> None:
    asked: list[dict[str, Any]] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_elicit(ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.model_dump(by_alias=True, mode="json", exclude_none=True))
        return types.ElicitResult(action="accept", content={"approve": False, "note": "not today"})

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))
        if message == "step 1/1":
            touch(f"{marker}.go1")

    async def run() -> None:
        with anyio.fail_after(DEADLINE_S * 2):
            await exchange()

    async def exchange() -> None:
        async with SdkClient(legacy_gateway.url, mode="legacy", elicitation_callback=on_elicit) as client:
            assert client.protocol_version == "2025-11-25"
            touch(f"{marker}.go")
            answer = await client.call_tool("approve", {"change": "v5", "marker": marker})
            assert answer.content[0].text == "v5: rejected (not today)"  # type: ignore[union-attr]
            done = await client.call_tool("slow", {"steps": 1, "marker": marker}, progress_callback=on_progress)
            assert done.content[0].text == "slow done after 1 steps"  # type: ignore[union-attr]

    anyio.run(run)
    assert asked and asked[0]["message"] == "Approve v5?"
    assert (0.0, 1.0, "step 1/1") in progress


# -- an upstream crash fails the running tasks; the gateway restarts it and keeps serving --


def test_upstream_crash_fails_running_tasks_and_the_gateway_restarts_it(tmp_path: Path) -> None:
    gw = Gateway(tmp_path / "gw", ["--upstream", LEGACY_UPSTREAM])
    c = gw.client()
    try:
        first_pid = text_of(result_of(c, "whoami"))
        waiting = c.start_task("hang", {"marker": str(tmp_path / "waiting")})
        crasher = c.start_task("crash", {"marker": str(tmp_path / "crash")})
        wait_until(lambda: (tmp_path / "waiting.started").exists(), what="the other call to start upstream")
        touch(str(tmp_path / "crash.go"))
        for task_id in (waiting, crasher):
            task = c.wait_for(task_id)
            assert task["status"] == "failed", task
            assert "exited while running tool" in task["statusMessage"], task
            assert "restarting" in task["statusMessage"]
            assert task["error"]["message"] == task["statusMessage"]
        # The gateway restarted the upstream (a new process) and keeps serving.
        second_pid = text_of(result_of(c, "whoami"))
        assert second_pid and second_pid != first_pid
        assert text_of(result_of(c, "quick", {"x": 2})) == "quick:2"
        assert "connection lost; restarting" in gw.log()
    finally:
        c.close()
        gw.stop()


# -- tasks outlive the gateway process --


def test_tasks_outlive_a_gateway_crash_retry_safe_tools_run_again(tmp_path: Path) -> None:
    config = "lease_s = 1\n" + BASE_CONFIG + '\n[tools.slow]\nmode = "auto"\nretry = true\n'
    workdir = tmp_path / "gw"
    again, once = str(tmp_path / "again"), str(tmp_path / "once")
    gw = Gateway(workdir, ["--upstream", LEGACY_UPSTREAM], config=config)
    c = gw.client()
    try:
        retried = c.start_task("slow", {"steps": 1, "marker": again})
        lost = c.start_task("hang", {"marker": once})
        wait_until(lambda: Path(f"{again}.started").exists() and Path(f"{once}.started").exists(), what="both calls")
    finally:
        c.close()
        gw.kill()  # the gateway dies with both tasks running; its upstream process goes with it

    gw = Gateway(workdir, ["--upstream", LEGACY_UPSTREAM], config=config)  # same store
    c = gw.client()
    try:
        # `slow` is retry-safe: the new gateway takes the task over and calls the upstream again.
        wait_until(lambda: Path(f"{again}.starts").read_text() == "2", what="the retry-safe call to run again")
        touch(f"{again}.go1")
        done = c.wait_for(retried)
        assert done["status"] == "completed", done
        assert text_of(done["result"]) == "slow done after 1 steps"
        # `hang` is not: its task fails, saying the worker was lost, instead of staying `working` forever.
        failed = c.wait_for(lost)
        assert failed["status"] == "failed", failed
        assert "lost" in failed["statusMessage"], failed
    finally:
        c.close()
        gw.stop()


# -- a 2026-07-28 upstream (MRTR elicitation, list changes on subscriptions/listen) --


def test_a_2026_upstream_over_stdio(tmp_path: Path) -> None:
    gw = Gateway(tmp_path / "gw", ["--upstream", MODERN_UPSTREAM])
    c = gw.client()
    marker = str(tmp_path / "m")
    try:
        task_id = c.start_task("slow", {"steps": 1, "marker": marker})
        c.wait_until_task(task_id, lambda t: t.get("statusMessage") == "step 1/1", "statusMessage 'step 1/1'")
        touch(f"{marker}.go1")
        assert text_of(c.wait_for(task_id)["result"]) == "slow done after 1 steps"

        # The upstream answers with an MRTR InputRequiredResult; the gateway turns it into inputRequests.
        task_id = c.start_task("approve", {"change": "v6", "marker": marker})
        touch(f"{marker}.go")
        [(key, request)] = c.wait_for(task_id, ("input_required",))["inputRequests"].items()
        assert request["params"]["message"] == "Approve v6?"
        c.update(task_id, {key: elicit_accept(approve=True, note="ship it")})
        assert text_of(c.wait_for(task_id)["result"]) == "v6: approved (ship it)"

        name = f"modern_{uuid.uuid4().hex[:8]}"
        assert c.request("tools/list")["tools"]
        result_of(c, "add_tool", {"name": name})
        wait_until(
            lambda: name in {t["name"] for t in c.request("tools/list")["tools"]},
            what=f"tools/list to show {name} after the upstream's subscriptions/listen event",
        )
    finally:
        c.close()
        gw.stop()


# -- Streamable HTTP upstreams --


class HttpUpstream:
    """tests/servers/gateway_upstream.py over Streamable HTTP; `restart()` keeps the port, forgets sessions."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._log = open(workdir / "upstream.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, UPSTREAM, "--http", str(self.port)]
        proc = subprocess.Popen(cmd, stdout=self._log, stderr=self._log)

        def listening() -> bool:
            assert proc.poll() is None, "the HTTP upstream exited"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_until(listening, what="the HTTP upstream to listen")
        return proc

    def restart(self) -> None:
        # SIGKILL: uvicorn's graceful shutdown would wait for the streams the gateway keeps open.
        self.proc.kill()
        self.proc.wait(timeout=DEADLINE_S)
        self.proc = self._start()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=DEADLINE_S)
        self._log.close()


def test_http_upstreams_of_both_eras_cancel_and_survive_an_upstream_restart(tmp_path: Path) -> None:
    upstream = HttpUpstream(tmp_path)
    config = f"""
budget_s = 0.3

[[upstreams]]
name = "m"                  # auto: server/discover succeeds, so 2026-07-28 (stateless)
url = "{upstream.url}"

[[upstreams]]
name = "l"                  # the 2025-11-25 handshake: an HTTP session with an id
url = "{upstream.url}"
protocol = "legacy"

[tools."*quick"]
budget_s = 15
"""
    gw = Gateway(tmp_path / "gw", [], config=config)
    c = gw.client()
    try:
        for prefix in ("m_", "l_"):
            assert text_of(c.call(f"{prefix}quick", {"x": 3})) == "quick:3"
            marker = str(tmp_path / prefix)
            task_id = c.start_task(f"{prefix}hang", {"marker": marker})
            wait_until(lambda m=marker: Path(f"{m}.started").exists(), what=f"{prefix}hang to start upstream")
            c.cancel(task_id)
            assert c.wait_for(task_id)["status"] == "cancelled"
            wait_until(lambda m=marker: Path(f"{m}.cancelled").exists(), what=f"the upstream to see {prefix} cancel")

        first = text_of(result_of(c, "l_whoami"))
        upstream.restart()  # the 2025-11-25 session id the gateway holds is now unknown upstream (HTTP 404)
        assert text_of(result_of(c, "l_whoami")) not in ("", first)
        assert text_of(result_of(c, "m_whoami")) not in ("", first)
    finally:
        c.close()
        gw.stop()
        upstream.stop()


def test_an_unreachable_http_upstream_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    port = free_port()
    nowhere = f"http://127.0.0.1:{port}/mcp"  # nothing listens here yet
    gw = Gateway(tmp_path / "gw", ["--upstream", nowhere])
    c = gw.client()
    upstream = None
    try:
        listed = c.message("tools/list", {})
        assert "error" in listed, listed
        assert "is unavailable" in listed["error"]["message"] and nowhere in listed["error"]["message"]
        called = c.message("tools/call", {"name": "quick", "arguments": {"x": 1}})
        assert "error" in called and "is unavailable" in called["error"]["message"], called
        # Once a server answers there, the next call connects at once instead of waiting out the backoff.
        upstream = HttpUpstream(tmp_path, port=port)
        assert text_of(result_of(c, "quick", {"x": 1})) == "quick:1"
    finally:
        c.close()
        gw.stop()
        if upstream is not None:
            upstream.stop()


# -- several upstreams behind one gateway, with name prefixes, from a config file --


def test_several_upstreams_with_prefixes(tmp_path: Path) -> None:
    config = f"""
budget_s = 0.3

[[upstreams]]
name = "old"
command = {json.dumps(LEGACY_UPSTREAM)}

[[upstreams]]
name = "new"
command = {json.dumps([sys.executable, UPSTREAM])}

[tools."new_*"]
mode = "forbidden"
"""
    gw = Gateway(tmp_path / "gw", [], config=config)
    c = gw.client()
    try:
        names = {t["name"] for t in c.request("tools/list")["tools"]}
        assert {"old_quick", "new_quick", "old_slow", "new_slow"} <= names
        assert "quick" not in names
        assert {p["name"] for p in c.request("prompts/list")["prompts"]} == {"old_greet", "new_greet"}
        old_pid = text_of(result_of(c, "old_whoami"))
        new_pid = text_of(result_of(c, "new_whoami"))
        assert old_pid != new_pid
        # `new_*` is forbidden: a slow call to it stays inline even for a task-aware caller.
        marker = str(tmp_path / "m")

        def open_gates() -> None:
            wait_until(lambda: Path(f"{marker}.started").exists(), what="the upstream tool to start")
            touch(f"{marker}.go1")

        opener = threading.Thread(target=open_gates, daemon=True)
        opener.start()
        inline = c.call("new_slow", {"steps": 1, "marker": marker})
        opener.join()
        assert inline.get("resultType") == "complete" and text_of(inline) == "slow done after 1 steps"
        assert c.call("old_slow", {"steps": 1, "marker": str(tmp_path / "n")})["resultType"] == "task"
        touch(str(tmp_path / "n.go1"))
    finally:
        c.close()
        gw.stop()


# -- the gateway itself over stdio --


def test_the_gateway_over_stdio(tmp_path: Path) -> None:
    (tmp_path / "gateway.toml").write_text(BASE_CONFIG)
    cmd = [OFFLOAD, "gateway", "--stdio", "--config", "gateway.toml", "--upstream", LEGACY_UPSTREAM]
    cmd += ["--store", f"sqlite:///{tmp_path / 'tasks.db'}"]
    err = open(tmp_path / "gateway.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, cwd=tmp_path)
    replies: dict[int, dict[str, Any]] = {}

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip():
                msg = json.loads(line)
                if "id" in msg:
                    replies[msg["id"]] = msg

    threading.Thread(target=read, daemon=True).start()
    ids = iter(range(1, 1000))

    def request(method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert proc.stdin is not None
        rid = next(ids)
        proc.stdin.write(
            json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": {**params, "_meta": meta()}})
        )
        proc.stdin.write("\n")
        proc.stdin.flush()
        reply = wait_until(lambda: replies.get(rid), what=f"a reply to {method} on stdio")
        assert "error" not in reply, reply
        return dict(reply["result"])

    try:
        marker = str(tmp_path / "m")
        created = request("tools/call", {"name": "slow", "arguments": {"steps": 1, "marker": marker}})
        assert created["resultType"] == "task"
        touch(f"{marker}.go1")

        def done() -> dict[str, Any] | None:
            task = request("tasks/get", {"taskId": created["taskId"]})
            return task if task["status"] in TERMINAL else None

        assert text_of(wait_until(done, what="the stdio task to finish")["result"]) == "slow done after 1 steps"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()


# -- configuration --


def test_configuration_errors_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from offload.cli import main

    def run(*args: str) -> tuple[int, str]:
        code = main(["gateway", *args])
        return code, capsys.readouterr().err

    code, err = run()
    assert code == 2 and err.startswith("offload gateway: no upstream: pass --upstream COMMAND|URL"), err
    bad = tmp_path / "bad.toml"
    bad.write_text('[upstream]\ncommand = "x"\n[tools.foo]\nmode = "sometimes"\n')
    code, err = run("--config", str(bad))
    assert code == 2 and "[tools.'foo']" in err and "mode" in err
    (tmp_path / "k.toml").write_text("colour = 1\n")
    assert "unknown key colour" in run("--config", str(tmp_path / "k.toml"))[1]
    (tmp_path / "u.toml").write_text("[upstream]\nname = 'x'\n")
    assert "exactly one of" in run("--config", str(tmp_path / "u.toml"))[1]
    assert "no such config file" in run("--config", str(tmp_path / "missing.toml"))[1]


def test_tool_rules_exact_names_first_then_patterns_in_order() -> None:
    from offload.gateway import config_from_mapping

    cfg = config_from_mapping(
        {
            "upstream": {"command": "srv --flag"},
            "tools": {"deploy-*": {"mode": "required"}, "*": {"mode": "optional"}, "deploy-docs": {"mode": "auto"}},
        }
    )
    assert cfg.upstreams[0].command == ("srv", "--flag")
    assert cfg.rule_for("deploy-docs").policy.mode == "auto"  # type: ignore[union-attr]
    assert cfg.rule_for("deploy-prod").policy.mode == "required"  # type: ignore[union-attr]
    assert cfg.rule_for("lint").policy.mode == "optional"  # type: ignore[union-attr]
    several = config_from_mapping(
        {"upstreams": [{"name": "a", "url": "http://x/mcp"}, {"name": "b", "command": ["y"]}]}
    )
    assert [u.prefix for u in several.upstreams] == ["a_", "b_"]


# -- the official server-everything from npm --


@pytest.fixture(scope="module")
def everything_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    command, reason = everything()
    if command is None:
        pytest.skip(f"@modelcontextprotocol/server-everything cannot run here: {reason}")
    gw = Gateway(tmp_path_factory.mktemp("gw-everything"), ["--upstream", " ".join(command)])
    yield gw
    gw.stop()


def test_server_everything_long_running_operation_becomes_a_task(everything_gateway: Gateway) -> None:
    c = everything_gateway.client()
    try:
        assert text_of(result_of(c, "echo", {"message": "hi"})) == "Echo: hi"
        task_id = c.start_task("trigger-long-running-operation", {"duration": 2, "steps": 4})
        seen: set[str] = set()

        def finished() -> dict[str, Any] | None:
            task = c.get(task_id)
            if task.get("statusMessage"):
                seen.add(task["statusMessage"])
            return task if task["status"] in TERMINAL else None

        task = wait_until(finished, what="the long-running operation to finish")
        assert task["status"] == "completed", task
        assert "Long running operation completed" in text_of(task["result"])
        assert seen & {"1/4", "2/4", "3/4", "4/4"}, seen  # its progress notifications, as statusMessage
    finally:
        c.close()


def test_server_everything_elicitation_and_sampling_through_tasks_update(everything_gateway: Gateway) -> None:
    c = everything_gateway.client()
    try:
        names = {t["name"] for t in c.request("tools/list")["tools"]}
        assert {"trigger-elicitation-request", "trigger-sampling-request"} <= names  # it saw our capabilities

        task_id = c.start_task("trigger-elicitation-request")
        [(key, request)] = c.wait_for(task_id, ("input_required",))["inputRequests"].items()
        assert request["method"] == "elicitation/create"
        schema = request["params"]["requestedSchema"]
        assert schema["required"] == ["name"] and "enumNames" in schema["properties"]["legacyTitledEnum"]
        c.update(task_id, {key: elicit_accept(name="Ada Lovelace", check=True)})
        assert "Ada Lovelace" in text_of(c.wait_for(task_id)["result"])

        task_id = c.start_task("trigger-sampling-request", {"prompt": "2+2?", "maxTokens": 5})
        [(key, request)] = c.wait_for(task_id, ("input_required",))["inputRequests"].items()
        assert request["method"] == "sampling/createMessage"
        answer = {"role": "assistant", "content": {"type": "text", "text": "four"}, "model": "test-model"}
        c.update(task_id, {key: answer})
        assert '"text": "four"' in text_of(c.wait_for(task_id)["result"])
    finally:
        c.close()


def test_server_everything_resources_and_prompts(everything_gateway: Gateway) -> None:
    c = everything_gateway.client()
    try:
        resources = c.request("resources/list")["resources"]
        uri = resources[0]["uri"]
        assert read_resource(c, uri)["contents"][0]["uri"] == uri
        assert "simple-prompt" in {p["name"] for p in c.request("prompts/list")["prompts"]}
        assert c.request("prompts/get", {"name": "simple-prompt"})["messages"]
        ref = {"type": "ref/prompt", "name": "completable-prompt"}
        completion = c.request("completion/complete", {"ref": ref, "argument": {"name": "department", "value": "E"}})
        assert completion["completion"]["values"] == ["Engineering"]
    finally:
        c.close()
