"""Where the operations packages sit: `observe` between the store and the runtime (the runtime and the
servers call it), `ops` (admin CLI, console) an entry point that reaches the store only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "offload"
ALLOWED = {
    "observe": {"offload.store", "offload.protocol", "offload.observe"},
    "ops": {"offload.store", "offload.protocol", "offload.ops"},
}


def offload_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found.update(".".join(n.split(".")[:2]) for n in names if n.split(".")[0] == "offload")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_stay_in_their_layer(package: str) -> None:
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files
    for path in files:
        extra = offload_imports(path) - ALLOWED[package]
        assert not extra, f"{path.relative_to(PACKAGE)} imports {sorted(extra)}"
