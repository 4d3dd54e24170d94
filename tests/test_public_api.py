"""The names users import are pinned: a change to the public surface is a deliberate edit here."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC = {
    "offload": [
        "TaskCancelled",
        "TaskClient",
        "TaskError",
        "TaskFailed",
        "TaskHandle",
        "TaskMode",
        "TaskPolicy",
        "TaskStatus",
        "TaskStore",
        "TaskTimeout",
        "Tasks",
        "__version__",
        "open_store",
        "step",
    ],
    "offload.server": ["Tasks"],
    "offload.runtime": [
        "MODES",
        "Execution",
        "Role",
        "TaskDispatch",
        "TaskMode",
        "TaskPolicy",
        "TaskRuntime",
        "new_task_id",
        "step",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_exported_names_are_pinned(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert getattr(mod, name) is not None


def test_every_public_package_declares_all() -> None:
    for name in ("offload.client", "offload.store", "offload.protocol", "offload.gateway", "offload.agent"):
        mod = importlib.import_module(name)
        assert isinstance(getattr(mod, "__all__", None), list | tuple), name
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
        assert not missing, f"{name}.__all__ names what it does not define: {missing}"


def test_the_client_does_not_load_the_server() -> None:
    code = "import sys, offload.client; print(sorted(m for m in sys.modules if m.startswith('offload.server')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_root_names_resolve_lazily() -> None:
    code = (
        "import sys, offload; before = 'offload.server' in sys.modules; offload.Tasks; "
        "print(before, 'offload.server' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
