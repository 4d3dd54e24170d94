"""Reading typed values by their schema, and progress out of a statusMessage (the pieces under the commands)."""

from __future__ import annotations

from typing import Any

import pytest

from offload.cli.exits import CliError
from offload.cli.ui import parse_progress
from offload.cli.values import coerce, coerce_arguments, example_content, summarize_schema

OPTIONAL_INT = {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}


@pytest.mark.parametrize(
    ("raw", "schema", "value"),
    [
        ("1.10", {"type": "string"}, "1.10"),
        ("007", {"type": "string"}, "007"),
        ("3", {"type": "number"}, 3),
        ("3.5", {"type": "number"}, 3.5),
        ("1e3", {"type": "number"}, 1000.0),
        ("no", {"type": "boolean"}, False),
        ("null", OPTIONAL_INT, None),
        ("4", OPTIONAL_INT, 4),
        ('["a", "b"]', {"type": "array", "items": {"type": "string"}}, ["a", "b"]),
        ('{"k": 1}', {"type": "object"}, {"k": 1}),
        ("fast", {"enum": ["fast", "slow"]}, "fast"),
        ("2", {"enum": [1, 2]}, 2),
        ("anything", {}, "anything"),
        ("[1]", {}, [1]),
    ],
)
def test_a_value_is_read_as_its_schema_says(raw: str, schema: dict[str, Any], value: Any) -> None:
    assert coerce(raw, schema) == value
    assert type(coerce(raw, schema)) is type(value)


@pytest.mark.parametrize(
    ("raw", "schema", "expected"),
    [
        ("1.5", {"type": "integer"}, "a whole number"),
        ("x", OPTIONAL_INT, "a whole number or null"),
        ("[1", {"type": "array"}, "a JSON array"),
        ("{}", {"type": "array"}, "a JSON array"),
        ("medium", {"enum": ["fast", "slow"]}, '"fast", "slow"'),
    ],
)
def test_a_value_that_does_not_fit_says_what_was_expected(raw: str, schema: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValueError, match="expected") as caught:
        coerce(raw, schema)
    assert expected in str(caught.value)


def test_a_closed_schema_refuses_unknown_arguments() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}
    with pytest.raises(CliError, match="has no argument 'b'"):
        coerce_arguments(["b=1"], schema, "tool")
    assert coerce_arguments(["a=1"], schema, "tool") == {"a": 1}


def test_examples_and_summaries_follow_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "ok": {"type": "boolean"},
            "n": {"type": "integer"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "copies": {"type": "integer", "default": 2},
            "name": {"type": "string"},
        },
        "required": ["ok", "n"],
    }
    assert example_content(schema) == {"ok": True, "n": 0, "mode": "a", "copies": 2, "name": "..."}
    assert summarize_schema(schema) == (
        "ok: boolean (required), n: integer (required), mode: string (a/b), copies: integer = 2, name: string"
    )


@pytest.mark.parametrize(
    ("message", "progress"),
    [
        ("3/5", (3.0, 5.0, "")),
        ("2.5/10 copying files", (2.5, 10.0, "copying files")),
        ("7/5", (5.0, 5.0, "")),
        ("3/0", None),
        ("step 3 of 5", None),
        ("3", None),
        (None, None),
    ],
)
def test_progress_is_read_from_n_slash_total(message: str | None, progress: tuple[float, float, str] | None) -> None:
    assert parse_progress(message) == progress
