"""One frozen Settings object, loaded from an environ mapping, the active profile and defaults.

Nothing is read at import: call `Settings.load(environ)` (environ defaults to os.environ).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]

ENV_PREFIX = "TRANSOM_"


class Settings(BaseSettings):
    """Every setting of Transom; env var = TRANSOM_ + the upper-case name."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    home: Path = Field(default_factory=lambda: Path.home() / ".transom",
                       description="Where the embedded database, results and logs live.")
    profile: str = Field("default", description="The active profile in TRANSOM_HOME/profiles.toml.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite at HOME/transom.db.")
    api_url: str | None = Field(None, description="Report runs to this server instead of the embedded database.")
    api_key: str | None = Field(None, description="API key the client sends to the server.")
    api_auth_string: str | None = Field(None, description="user:password the client sends (basic auth).")
    server_api_host: str = Field("127.0.0.1", description="Address `transom server start` binds.")
    server_api_port: int = Field(4200, description="Port `transom server start` binds.")
    server_api_auth_string: str | None = Field(None, description="user:password the server requires.")
    server_api_key: str | None = Field(None, description="API key the server requires.")
    logging_level: str = Field("INFO", description="Level of run loggers and console output.")
    log_prints: bool = Field(False, description="Capture print() inside flows and tasks as run logs.")
    results_persist: bool = Field(False, description="Persist every result by default.")
    results_storage: str | None = Field(None, description="Where persisted results go; default HOME/storage.")
    results_serializer: str = Field("pickle", description="Default serializer: pickle or json.")
    task_runner_max_workers: int | None = Field(None, description="Threads of the default task runner.")
    sqlite_busy_timeout: float = Field(30.0, description="Seconds SQLite waits on a locked database.")
    debug: bool = Field(False, description="Show tracebacks for errors.")

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            key = ENV_PREFIX + name.upper()
            if key in env and env[key] != "":
                values[name] = env[key]
        values.update(overrides)
        return cls.model_validate(values)

    @property
    def database_url_resolved(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'transom.db'}"

    @property
    def results_storage_resolved(self) -> str:
        return self.results_storage or str(self.home / "storage")
