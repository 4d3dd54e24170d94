"""Operating offload: the admin CLI (`offload admin`) and the web console (`offload console`).

Both read the task store directly, so they see every task of every instance sharing it, and act
the way the task methods do: a cancel settles the stored task and tells the instance running it
(offload.ops.actions). Entry-point layer: nothing below imports this package.
"""

from offload.ops.actions import OPERATOR_CANCELLED, cancel_task, parse_duration, task_detail, task_summary

__all__ = ["OPERATOR_CANCELLED", "cancel_task", "parse_duration", "task_detail", "task_summary"]
