"""EmbeddedBackend: every service of this package on one database (what the server runs, and
what `python flow.py` or a worker uses with no server)."""

from __future__ import annotations

from types import TracebackType

from transom.services.artifacts import Artifacts
from transom.services.blocks import Blocks
from transom.services.concurrency import ConcurrencyLimits
from transom.services.context import Context
from transom.services.deployments import Deployments
from transom.services.flow_runs import FlowRuns
from transom.services.overview import Overview
from transom.services.pauses import Pauses
from transom.services.variables import Variables
from transom.services.work_pools import WorkPools
from transom.services.workers import Workers

__all__ = ["EmbeddedBackend"]


class EmbeddedBackend(FlowRuns, WorkPools, Deployments, Workers, Variables,
                      Artifacts, Pauses, Overview, Blocks, ConcurrencyLimits):
    """The operations straight on a database (what the server itself runs)."""

    def __init__(self, ctx: Context, *, owns_database: bool = True) -> None:
        self.ctx = ctx
        self._owns = owns_database

    @property
    def where(self) -> str:
        """For messages: the database's file (SQLite) or host, port and name; no password."""
        return self.ctx.db.where

    def close(self) -> None:
        if self._owns:
            self.ctx.db.close()

    def __enter__(self) -> EmbeddedBackend:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
