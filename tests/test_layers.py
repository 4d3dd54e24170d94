"""The package's shape: data flows one way, no import cycles, SDK internals in one module.

protocol <- store <- runtime <- server/client <- entry points (agent, cli, demo, gateway, ...).
Imports under `if TYPE_CHECKING:` count: a cycle a type checker sees is still a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "offload"
RANK = {
    "_backoff": 0,
    "_callbacks": 0,
    "protocol": 0,
    "store": 1,
    "observe": 1.5,
    "runtime": 2,
    "server": 3,
    "client": 3,
    "agent": 4,
}
# entry points (cli, demo, gateway, ...) may import anything below them; the package root re-exports lazily
#: The one module allowed to touch the SDK's private attributes (see its docstring).
SDK_BRIDGE = PACKAGE / "server" / "bridge.py"
#: Attributes that look private but are public API of the standard library.
PUBLIC_UNDERSCORE = {"_replace", "_asdict", "_fields", "_make"}
#: Private names of other libraries than the SDK, where no public API does the job.
OTHER_LIBRARIES = {"_actions", "_SubParsersAction", "_exit"}  # argparse, os._exit


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, absolute, resolved to a module of the package where it names one."""
    name = next(m for m, p in MODULES.items() if p == path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield sub if sub in MODULES else base


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "offload" and parts[1] in RANK else None


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


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        if name == "offload":
            continue  # the root only re-exports, lazily
        graph[name] = {m for m in _imports(path) if m in MODULES and m != name and m != "offload"}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules along it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # A module importing its own package's __init__ (or the reverse) is how packages work, not a cycle.
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _own_private_names() -> set[str]:
    """Underscore names offload itself defines (methods, functions, attributes set on self)."""
    names: set[str] = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name.startswith("_"):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr.startswith("_"):
                names.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("_"):
                names.add(node.value)  # __slots__ entries
    return names


def test_sdk_private_attributes_only_in_the_bridge() -> None:
    own = _own_private_names()
    offenders: list[str] = []
    for path in MODULES.values():
        if path == SDK_BRIDGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__"):
                continue
            if attr in PUBLIC_UNDERSCORE or attr in OTHER_LIBRARIES or attr in own:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{attr}")
        for module in _imports(path):
            if module.startswith("mcp") and any(part.startswith("_") for part in module.split(".")):
                offenders.append(f"{path.relative_to(PACKAGE)} imports private {module}")
    assert not offenders, "SDK internals outside server/bridge.py: " + ", ".join(offenders)


def test_gateway_uses_only_the_public_server_api() -> None:
    allowed = {"offload.server", "offload.server.app"}
    for path in sorted((PACKAGE / "gateway").rglob("*.py")):
        for module in _imports(path):
            if module.startswith("offload.server"):
                assert module in allowed, f"{path.relative_to(PACKAGE)} imports server internals: {module}"
