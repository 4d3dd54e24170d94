"""An agent loop with tasks, a scripted stand-in for the model, and what entered its context window.

Against the demo server (`offload serve offload.demo.server:server --port 8000`):

    python examples/agent_loop.py http://127.0.0.1:8000/mcp

The loop is the one a real agent runs with `offload.agent.TaskToolAdapter`; only the model is
scripted (`offload.demo.agent_loop.ScriptedModel`, deterministic, no network). To use an LLM, replace
`model.next()` with your model's next tool call and `model.read(text)` with appending `text` to its
messages. What the loop prints is every message that entered the model's window, then the same work
done by a host without tasks, counted the same way.
"""

from __future__ import annotations

import sys

import anyio

from offload.demo.agent_loop import run_agent_loop, run_blocking


async def main(url: str) -> None:
    def show(kind: str, text: str) -> None:
        print(f"model <- {kind:<9} {text}")

    loop = await run_agent_loop(url, lines=2000, on_message=show)
    blocking, _ = await run_blocking(url, lines=2000)
    window = loop.window
    print(
        f"window with tasks: {window.bytes():,} bytes in {window.count()} messages "
        f"({window.bytes('attention'):,} bytes of attention lines)"
    )
    print(f"window blocking:   {blocking.bytes():,} bytes in {blocking.count()} messages")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/mcp")
