"""Flags mean one thing everywhere (`--json` output, `--args` the argument object); every `--help` is complete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import offload, offload_each, ok, one_error_line

from helpers import ServerProcess

COMMANDS = [
    ("serve",),
    ("worker",),
    ("demo",),
    ("gateway",),
    ("tools",),
    ("tasks",),
    ("call",),
    ("task",),
    ("task", "get"),
    ("task", "wait"),
    ("task", "cancel"),
    ("task", "answer"),
]


def test_json_after_the_arguments_is_the_output_format(server: ServerProcess, journal: Path) -> None:
    result = json.loads(
        ok(offload("call", server.url, "echo", "n=1", "flag=true", "word=x", "--json", journal=journal))
    )
    assert json.loads(result["content"][0]["text"]) == {"n": 1, "flag": True, "word": "x"}
    base = json.dumps({"n": 5, "flag": False, "word": "w"})
    for spelling in ("--args", "--json-args"):  # the old spelling still works
        out = ok(offload("call", server.url, "echo", spelling, base, journal=journal))
        assert json.loads(out) == {"n": 5, "flag": False, "word": "w"}


def test_every_help_is_complete_with_an_example(journal: Path) -> None:
    procs = offload_each([(*command, "--help") for command in COMMANDS] + [("--help",)], journal=journal)
    for command, proc in zip([*COMMANDS, ("offload",)], procs, strict=True):
        text = ok(proc)
        assert "example" in text, f"{command}: {text}"
        assert proc.stderr == ""
    helps = dict(zip([" ".join(c) for c in COMMANDS], procs, strict=False))
    serve = helps["serve"].stdout
    assert "(default: 127.0.0.1)" in serve and "(default: 8000)" in serve
    answer = helps["task answer"].stdout
    assert "answer format" in answer and '"action": "accept", "content"' in answer
    call = helps["call"].stdout
    assert "[KEY=VALUE ...]" in call and "optional" in call
    assert "exit codes" in call


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("call",), "the following arguments are required: URL, TOOL"),
        (("task", "get", "http://x/mcp"), "goes after '--'"),
        (("tasks", "--bogus"), "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_are_one_line_that_points_at_help(argv: tuple[str, ...], needle: str, journal: Path) -> None:
    line = one_error_line(offload(*argv, journal=journal), 2)
    assert needle in line and "--help" in line
    assert "KEY=VALUE" not in line  # arguments are optional
