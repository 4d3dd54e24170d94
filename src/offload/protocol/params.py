"""Params models of the three task methods."""

from __future__ import annotations

from typing import Any

from mcp_types import RequestParams
from pydantic import ConfigDict, Field


class TaskIdParams(RequestParams):
    """Params of `tasks/get` and `tasks/cancel`."""

    model_config = ConfigDict(extra="ignore")
    task_id: str = Field(alias="taskId", max_length=256)


class UpdateTaskParams(TaskIdParams):
    """Params of `tasks/update`; each answer is checked against the request it answers."""

    input_responses: dict[str, Any] = Field(alias="inputResponses")
