"""Execution of tools as tasks: promotion, input, cancellation, leases and recovery."""

from offload.runtime.engine import Role, TaskRuntime
from offload.runtime.execution import Execution, TaskDispatch
from offload.runtime.lifecycle import new_task_id
from offload.runtime.policy import MODES, TaskMode, TaskPolicy
from offload.runtime.replay import step

__all__ = [
    "MODES",
    "Execution",
    "Role",
    "TaskDispatch",
    "TaskMode",
    "TaskPolicy",
    "TaskRuntime",
    "new_task_id",
    "step",
]
