"""`transom.tasks`: the task decorator and its helpers, where a Prefect user imports them."""

from __future__ import annotations

from transom.core.policies import exponential_backoff, task_input_hash
from transom.core.tasks import Task, task

__all__ = ["Task", "exponential_backoff", "task", "task_input_hash"]
