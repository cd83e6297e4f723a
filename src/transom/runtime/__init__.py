"""`transom.runtime`: facts about the run that the calling code is in, read when asked.

`transom.runtime.flow_run.name`, `transom.runtime.task_run.id`, `transom.runtime.deployment.id`
and the others are looked up on every access from the current run (and, in a process a worker
started for a deployment, from the run it was given). Outside a run they are None, empty or 0;
they never raise.
"""

from __future__ import annotations

from transom.runtime import deployment, flow_run, task_run

__all__ = ["deployment", "flow_run", "task_run"]
