"""`transom.flow_runs`, Prefect's path for waiting on a flow run from code.

    run = await wait_for_flow_run(run_id, timeout=600)

Works embedded or against the server of TRANSOM_API_URL (`services.open_backend`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any

from transom.deployments import wait_for_run
from transom.exceptions import FlowRunWaitTimeout
from transom.schemas import FlowRunRead

if TYPE_CHECKING:
    from transom.settings import Settings

__all__ = ["wait_for_flow_run"]

logger = logging.getLogger("transom.flow_runs")


async def wait_for_flow_run(flow_run_id: uuid.UUID | str, timeout: float | None = 10800,
                            poll_interval: float | None = None, client: Any = None,
                            log_states: bool = False, *,
                            settings: Settings | None = None) -> FlowRunRead:
    """The flow run once it has ended (Completed, Failed, Crashed or Cancelled); raises
    FlowRunWaitTimeout if it has not within `timeout` seconds (None: wait as long as it takes).
    `log_states` logs each state it passes through. `client` is accepted for Prefect's
    signature; the run is read from TRANSOM_API_URL's server, else the embedded database."""
    del client
    return await asyncio.to_thread(_wait, flow_run_id, timeout, poll_interval or 1.0,
                                   log_states, settings)


def _wait(flow_run_id: uuid.UUID | str, timeout: float | None, interval: float,
          log_states: bool, settings: Settings | None) -> FlowRunRead:
    from transom.core.states import FINAL_TYPES
    from transom.services import open_backend

    def said(run: FlowRunRead) -> None:
        if log_states:
            logger.info("flow run %r is %s", run.name, run.state_name)

    with open_backend(settings) as backend:
        run = backend.read_flow_run(flow_run_id)
        said(run)
        final: FlowRunRead = wait_for_run(backend, run, timeout, interval, said)
    if final.state_type not in FINAL_TYPES:
        raise FlowRunWaitTimeout(f"flow run {final.name!r} ({final.id}) had not ended after "
                                 f"{timeout:g} s; it is {final.state_name}")
    return final
