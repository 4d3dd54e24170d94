"""`offload gateway` under faults: crashes of the upstream and of the gateway, unreachable and restarted
HTTP upstreams, several upstreams, stdio, configuration errors."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import (
    BASE_CONFIG,
    LEGACY_UPSTREAM,
    MODERN_UPSTREAM,
    UPSTREAM,
    Gateway,
    HttpUpstream,
    result_of,
    touch,
)

from helpers import (
    DEADLINE_S,
    OFFLOAD,
    TERMINAL,
    elicit_accept,
    free_port,
    meta,
    text_of,
    wait_until,
)

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
