"""Overhead of offload's metrics and traces: `.venv/bin/python benchmarks/observe.py [--duration S] [--rounds N]`.

Runs `offload serve benchmarks/observe_server.py` (SQLite store, pinned to core 0 with `taskset`) with
telemetry off (no SDK: the hooks are API no-ops) and on (SDK metrics behind a Prometheus endpoint, every
span recorded and batched), alternating `--rounds` times, and loads it from this process (core 1) with
benchmarks/load.py: tasks/get of one completed task, and tools/call of `zero` (a durable task created,
run and completed). Prints one Markdown table: the best round of each, and the server's CPU per operation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from load import Connection, Stats, call_tool, expecting, get_task, run_load  # noqa: E402
from run import CLK_TCK, OFFLOAD, free_port, machine  # noqa: E402


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def measure(telemetry: str, tmp: Path, duration: float, conns: int) -> dict[str, tuple[Stats, float]]:
    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "OFFLOAD_BENCH_TELEMETRY": telemetry, "OFFLOAD_BENCH_METRICS_PORT": str(metrics_port)}
    db = tmp / f"{telemetry}-{time.monotonic_ns()}.db"
    cmd = ["taskset", "-c", "0", str(OFFLOAD), "serve", str(HERE / "observe_server.py"), "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--store", f"sqlite:///{db}"], env=env, stderr=subprocess.DEVNULL)
    out: dict[str, tuple[Stats, float]] = {}
    try:
        for _ in range(300):
            try:
                conn = await Connection.open(port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("server did not come up")
        task = await conn.call(call_tool(port, "zero"))
        conn.close()
        await asyncio.sleep(0.3)
        for name, op in [
            ("tasks/get", expecting(get_task(port, task["taskId"]), "complete")),
            ("create (tools/call -> task)", expecting(call_tool(port, "zero"), "task")),
        ]:
            cpu0 = cpu_s(proc.pid)
            stats = await run_load(port, op, connections=conns, duration=duration, warmup=1.0)
            if stats.errors:
                raise RuntimeError(f"{stats.errors} errors: {stats.first_error}")
            cpu_per_op_us = (cpu_s(proc.pid) - cpu0) / max(stats.ops, 1) * 1e6  # warm-up included: an upper bound
            out[name] = (stats, cpu_per_op_us)
        if telemetry == "on":  # the endpoint answers, with our series
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
            assert "offload_store_duration_seconds_count" in text, text[:500]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out


async def main_async(args: argparse.Namespace) -> None:
    best: dict[tuple[str, str], tuple[Stats, float]] = {}
    with tempfile.TemporaryDirectory(prefix="offload-observe-bench-") as tmp:
        for r in range(args.rounds):
            for telemetry in ("off", "on"):
                for name, (stats, cpu) in (
                    await measure(telemetry, Path(tmp), args.duration, args.connections)
                ).items():
                    print(f"round {r + 1} telemetry {telemetry:<3} {name:<28} {stats.line()}  cpu {cpu:.0f} us/op")
                    key = (name, telemetry)
                    if key not in best or stats.rate > best[key][0].rate:
                        best[key] = (stats, cpu)
    print(f"\n{machine()}\n")
    print("| operation | telemetry | ops/s | p50 ms | p99 ms | server CPU us/op | change in ops/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in ("tasks/get", "create (tools/call -> task)"):
        base = best[(name, "off")][0].rate
        for telemetry in ("off", "on"):
            stats, cpu = best[(name, telemetry)]
            change = "" if telemetry == "off" else f"{(stats.rate / base - 1) * 100:+.1f}%"
            print(
                f"| {name} | {telemetry} | {stats.rate:,.0f} | {stats.percentile(0.5):.2f} | "
                f"{stats.percentile(0.99):.2f} | {cpu:.0f} | {change} |"
            )
    print(f"\n`{' '.join(['benchmarks/observe.py', *sys.argv[1:]])}`, Python {platform.python_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per operation (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="off/on alternations; the best of each counts")
    parser.add_argument("--connections", type=int, default=20, help="concurrent keep-alive connections")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
