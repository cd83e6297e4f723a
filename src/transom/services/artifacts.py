"""Artifacts: what runs publish (markdown, tables, links, progress, images), versioned by key."""

from __future__ import annotations

import uuid

from transom.exceptions import UserInputError
from transom.schemas import ArtifactCreate, ArtifactRead, ArtifactUpdate, RunCursor
from transom.services.context import Context
from transom.store import artifacts as store

__all__ = ["Artifacts"]


class Artifacts:
    ctx: Context

    def create_artifact(self, body: ArtifactCreate) -> ArtifactRead:
        """A new artifact; with a key seen before, that key's next version."""
        with self.ctx.db.write() as conn:
            return store.create_artifact(conn, body, now=self.ctx.clock())

    def update_artifact(self, artifact_id: uuid.UUID, body: ArtifactUpdate) -> ArtifactRead:
        """A progress artifact's new value (UserInputError for any other type)."""
        with self.ctx.db.write() as conn:
            return store.update_artifact(conn, artifact_id, body, now=self.ctx.clock())

    def read_artifact(self, key: str) -> ArtifactRead:
        """The key's newest version."""
        with self.ctx.db.read() as conn:
            return store.read_artifact(conn, key)

    def list_artifacts(self, *, key: str | None = None, flow_run_id: uuid.UUID | None = None,
                       key_prefix: str | None = None, limit: int = 200, offset: int = 0,
                       after: str | None = None,
                       before: str | None = None) -> list[ArtifactRead]:
        """Newest first: the versions of `key`, a flow run's artifacts, or the newest version
        of every key; only keys starting with `key_prefix` when given. The newest versions
        page by keyset: `after` / `before` the cursor (`RunCursor`) of a listed artifact."""
        try:
            keys = {"after": RunCursor.decode(after) if after is not None else None,
                    "before": RunCursor.decode(before) if before is not None else None}
        except ValueError as exc:
            raise UserInputError(str(exc)) from None
        with self.ctx.db.read() as conn:
            return store.list_artifacts(conn, key=key, flow_run_id=flow_run_id,
                                        key_prefix=key_prefix, limit=limit, offset=offset,
                                        **keys)

    def delete_artifact(self, key: str) -> int:
        """Every version of the key (NotFound if none); how many there were."""
        with self.ctx.db.write() as conn:
            return store.delete_artifact(conn, key)
