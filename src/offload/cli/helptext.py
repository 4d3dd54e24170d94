"""What `--help` says for each command: a description and examples (the parsers hold the flags)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = [
    "CALL",
    "COMMANDS",
    "DEMO",
    "EXITS",
    "GATEWAY",
    "MAIN",
    "SERVE",
    "SUMMARY",
    "TASK",
    "TASKS",
    "TASK_COMMANDS",
    "TOOLS",
    "WORKER",
    "Help",
    "add_command",
]


class Help(NamedTuple):
    description: str
    epilog: str


#: One line per command, in the order `offload --help` lists them.
SUMMARY = {
    "serve": "serve an MCPServer with tasks over Streamable HTTP or stdio",
    "worker": "claim and run tasks from a shared store (no HTTP)",
    "demo": "run an example server and a task-aware client against it",
    "gateway": "serve an existing MCP server (stdio command or URL) with durable tasks",
    "bridge": "serve a task-capable server to MCP hosts without tasks: long calls answer with a handle",
    "admin": "inspect and manage the tasks in a store (list, show, cancel, purge, stats)",
    "console": "a web console over a task store: live task list, task pages, cancel",
    "tools": "list a server's tools and their arguments",
    "tasks": "list the tasks in the client journal (unfinished by default)",
    "call": "call a tool; follow the task it starts to its end (or --detach)",
    "task": "one task by id: get, wait, cancel, answer",
}

EXITS = """exit codes: 0 ok, 1 failed (task, tool or server error), 2 usage, 3 unreachable,
            4 still running (--timeout, or input needed), 130 interrupted"""

MAIN = Help(
    description="Durable MCP Tasks for the official MCP Python SDK: serve tools as tasks, call them, follow them.",
    epilog=f"""examples:
  offload serve examples/quickstart.py --port 8000
  offload tools http://127.0.0.1:8000/mcp
  offload call http://127.0.0.1:8000/mcp build ref=main
  offload tasks

`offload COMMAND --help` describes each command. `--json` (here or after the command) prints JSON.
{EXITS}""",
)

SERVE = Help(
    description="Serve an MCPServer that uses offload's Tasks over Streamable HTTP (or stdio).",
    epilog="""examples:
  offload serve examples/quickstart.py                      # http://127.0.0.1:8000/mcp
  offload serve myapp.server:mcp --host 0.0.0.0 --port 9000 --allow-host builds.example.com
  offload serve examples/quickstart.py --store sqlite:///tasks.db --workers   # and `offload worker` beside it""",
)

WORKER = Help(
    description="Claim and run tasks from a store shared with `offload serve --workers` front instances.",
    epilog="""example:
  offload worker examples/quickstart.py --store postgresql://db/offload""",
)

DEMO = Help(
    description="Start the example server, call a long pipeline as a task, kill and restart the server.",
    epilog="example:\n  offload demo --dir /tmp/offload-demo",
)

GATEWAY = Help(
    description="Durable MCP Tasks in front of an unchanged MCP server (a stdio command or a URL).",
    epilog="""examples:
  offload gateway --upstream 'npx -y @modelcontextprotocol/server-everything'
  offload gateway --upstream http://127.0.0.1:9000/mcp --tool 'deploy-*=required' --port 8000
  offload gateway --config gateway.toml""",
)

TOOLS = Help(
    description="List a server's tools: name, description, task support, arguments.",
    epilog="""examples:
  offload tools http://127.0.0.1:8000/mcp
  offload tools http://127.0.0.1:8000/mcp --json      # the tools/list entries""",
)

CALL = Help(
    description="Call a tool. KEY=VALUE words are typed by the tool's inputSchema (a string field keeps "
    '`v=1.10` as "1.10", a boolean takes true/false/yes/no, arrays and objects are JSON). A task is followed '
    "to its end with a status line on stderr (a progress bar when the progress has a total); the result "
    "goes to stdout. At a terminal, questions the task asks are prompted for.",
    epilog=f"""examples:
  offload call http://127.0.0.1:8000/mcp build ref=main dry=true
  offload call http://127.0.0.1:8000/mcp build --args '{{"ref": "main", "targets": ["a", "b"]}}'
  offload call --detach http://127.0.0.1:8000/mcp build ref=main    # prints the task id
  offload call --json http://127.0.0.1:8000/mcp build ref=main      # the full CallToolResult

Ctrl-C stops waiting; the task keeps running (`offload task wait URL ID` picks it up).
{EXITS}""",
)

TASK = Help(
    description="One task by id: get it, wait for it, cancel it, answer its questions.",
    epilog="""examples:
  offload task get URL TASK_ID
  offload task wait URL TASK_ID --timeout 600
  offload task get URL -- -TASK_ID_STARTING_WITH_A_DASH""",
)

TASK_COMMANDS = {
    "get": Help(
        description="Show a task as tasks/get returns it: status, message, input requests, result.",
        epilog="example:\n  offload task get http://127.0.0.1:8000/mcp TASK_ID --json",
    ),
    "wait": Help(
        description="Follow a task to its end (prompting for its questions at a terminal) and print its result.",
        epilog=f"example:\n  offload task wait http://127.0.0.1:8000/mcp TASK_ID --timeout 600\n{EXITS}",
    ),
    "cancel": Help(
        description="Ask the server to cancel a task (tasks/cancel). The task settles shortly after.",
        epilog="example:\n  offload task cancel http://127.0.0.1:8000/mcp TASK_ID",
    ),
    "answer": Help(
        description="Answer a task's input requests (tasks/update). Each answer is KEY=JSON, KEY being the "
        "key under inputRequests (`offload task get` shows them with a ready-made command). The answer is "
        "checked against the request's requestedSchema before it is sent.",
        epilog="""answer format (elicitation/create):
  KEY='{"action": "accept", "content": {"FIELD": VALUE, ...}}'   VALUE typed as the schema says (true, 3, "text")
  KEY='{"action": "decline"}'  or  KEY='{"action": "cancel"}'
other requests (sampling/createMessage, roots/list): KEY=the JSON result object.

examples:
  offload task answer URL TASK_ID 'confirm={"action": "accept", "content": {"ok": true}}'
  offload task answer URL TASK_ID --responses '{"confirm": {"action": "decline"}}'""",
    ),
}

TASKS = Help(
    description="List the tasks in the client journal (the ones `offload call` started), unfinished ones by "
    "default. Statuses are refreshed from their servers first (concurrently, each with a short timeout); a row "
    "that could not be refreshed is marked with `*` and says why.",
    epilog="""examples:
  offload tasks
  offload tasks --all --server http://127.0.0.1:8000/mcp
  offload tasks --offline --json       # the journal as it is, no network""",
)

#: Each command's description and examples, by the name `offload --help` lists it under.
COMMANDS = {
    "serve": SERVE,
    "worker": WORKER,
    "demo": DEMO,
    "gateway": GATEWAY,
    "tools": TOOLS,
    "tasks": TASKS,
    "call": CALL,
    "task": TASK,
}


def add_command(
    sub: Any,
    name: str,
    formatter: type[argparse.HelpFormatter],
    *,
    summary: str | None = None,
    texts: Mapping[str, Help] = COMMANDS,
) -> argparse.ArgumentParser:
    """The subparser of command `name` with its words from here (the summary, by default
    `SUMMARY[name]`, and `texts[name]`), so a command's help is written once, in this module."""
    text = texts[name]
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=SUMMARY[name] if summary is None else summary,
        description=text.description,
        epilog=text.epilog,
        formatter_class=formatter,
    )
    return parser
