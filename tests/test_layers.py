"""Data flows one way: protocol <- store <- runtime <- server/client <- entry points."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "offload"
RANK = {"_backoff": 0, "protocol": 0, "store": 1, "runtime": 2, "server": 3, "client": 3, "agent": 4}
# entry points (cli/, demo, gateway) may import anything; the package root re-exports


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "offload" and parts[1] in RANK else None


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("layer", sorted(RANK))
def test_no_layer_imports_a_higher_one(layer: str) -> None:
    root = PACKAGE / layer
    files = sorted(root.rglob("*.py")) if root.is_dir() else [PACKAGE / f"{layer}.py"]
    assert files
    for path in files:
        for module in _imports(path):
            other = _layer(module)
            if other is None or other == layer:
                continue
            assert RANK[other] < RANK[layer], f"{path.relative_to(PACKAGE)} ({layer}) imports {module} ({other})"
            assert {layer, other} != {"server", "client"}, f"{path.relative_to(PACKAGE)} mixes server and client"
