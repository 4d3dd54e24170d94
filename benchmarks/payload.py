"""Large results: bytes entering an agent's window and time until it has something to read.

    .venv/bin/python benchmarks/payload.py [--sizes 5,100]

Starts `offload serve benchmarks/payload_server.py` (SQLite store in a temporary directory) and, per
size, runs `offload.agent.payload.measure_large_result`: the tool `log(mb)` blocking (no tasks
extension: the whole result is the answer), its twin `log_inline` as a task whose result is stored
whole (`offload_bytes=0`), and `log` as a task whose log is offloaded, then one slice (the last 40
lines) read just in time. "Result in hand" is the blocking call itself (the tool's ~0.1-2 s of
generating the log included: nothing arrives before the whole answer), and for a task the tasks/get
that hands the result over once the task is done (polling pace left out). Wall clock, one machine,
server and client sharing its 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from offload.agent.payload import measure_large_result

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5,100", help="result sizes in MB, comma-separated")
    args = parser.parse_args()
    offload = str(Path(sys.executable).parent / "offload")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = subprocess.Popen(
            [
                offload,
                "serve",
                str(HERE / "payload_server.py"),
                "--port",
                str(port),
                "--store",
                f"sqlite:///{tmp}/t.db",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp,
        )
        try:
            wait_listening(port, proc)
            url = f"http://127.0.0.1:{port}/mcp"
            print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; SQLite store")
            print()
            print("| result | way | bytes in the window | result in hand after |")
            print("|---|---|---|---|")
            for mb in (float(s) for s in args.sizes.split(",")):
                report = anyio.run(lambda mb=mb: measure_large_result(url, "log", {"mb": mb}, inline_tool="log_inline"))
                label = f"{mb:g} MB"
                print(f"| {label} | blocking | {report.blocking_bytes:,} | {report.blocking_seconds * 1000:,.0f} ms |")
                print(
                    f"| {label} | task, result inline | {report.inline_task_bytes:,} "
                    f"| {(report.inline_task_seconds or 0) * 1000:,.0f} ms |"
                )
                print(
                    f"| {label} | task, link + 40-line slice | {report.link_bytes:,} + {report.slice_bytes:,} "
                    f"| {report.link_seconds * 1000:,.1f} ms (+ slice {report.slice_seconds * 1000:.1f} ms) |"
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
