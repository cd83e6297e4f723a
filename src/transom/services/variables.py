"""Variables: named JSON values flows share (`transom.variables.Variable`)."""

from __future__ import annotations

from transom.schemas import VariableCreate, VariableRead
from transom.services.context import Context
from transom.store import variables as store

__all__ = ["Variables"]


class Variables:
    ctx: Context

    def set_variable(self, body: VariableCreate, *, overwrite: bool = False) -> VariableRead:
        """Create a variable; AlreadyExists if one has that name, unless `overwrite` (which
        replaces its value and tags)."""
        with self.ctx.db.write() as conn:
            return store.set_variable(conn, body, overwrite=overwrite, now=self.ctx.clock())

    def read_variable(self, name: str) -> VariableRead:
        with self.ctx.db.read() as conn:
            return store.read_variable(conn, name)

    def list_variables(self, *, limit: int = 200, offset: int = 0) -> list[VariableRead]:
        """By name."""
        with self.ctx.db.read() as conn:
            return store.list_variables(conn, limit=limit, offset=offset)

    def delete_variable(self, name: str) -> None:
        """NotFound if there is none of that name."""
        with self.ctx.db.write() as conn:
            store.delete_variable(conn, name)
