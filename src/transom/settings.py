"""One frozen Settings object, loaded from an environ mapping, the active profile and defaults.

Precedence: explicit overrides > the environ mapping (`TRANSOM_*`) > the active profile in
`TRANSOM_HOME/profiles.toml` > defaults. Nothing is read at import: call `Settings.load(environ)`
(environ defaults to `os.environ`), and `settings.sources()` says where each value came from.

profiles.toml looks like::

    active = "dev"
    [profiles.dev]
    server_api_port = 4300
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from transom.exceptions import ConfigError
from transom.platform.paths import default_home, expand_user, is_windows_absolute
from transom.platform.system import current_platform

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "DEFAULT_PROFILE",
    "ENV_PREFIX",
    "PROFILES_FILE",
    "RESERVED_ENV_VARS",
    "SECRET_SETTINGS",
    "SETTING_NAMES",
    "ProfilesFile",
    "Settings",
    "active_profile",
    "coerce_setting",
    "describe_expected",
    "env_var",
    "mask_secret",
    "normalize_key",
    "resolve_home",
]

ENV_PREFIX = "TRANSOM_"
PROFILES_FILE = "profiles.toml"
DEFAULT_PROFILE = "default"
# TRANSOM_* variables that are not settings (hand-offs between Transom processes): never warned
# about. Names starting with TRANSOM__ (two underscores) are also left alone.
RESERVED_ENV_VARS: frozenset[str] = frozenset({"TRANSOM_FLOW_RUN_ID", "TRANSOM_WORKER_ID"})
# Settings that only the environment (or an override) may set: they decide where profiles live.
_ENV_ONLY = frozenset({"home", "profile"})
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_PROFILE_NAME = re.compile(r"^[\w][\w.-]*$")

logger = logging.getLogger("transom.settings")

# Top-level paths of the server, which a root path may not begin with.
_SERVER_PATHS = ("api", "static", "docs", "runs", "task-runs", "deployments", "work-pools", "login",
             "logout", "artifacts", "variables", "blocks", "concurrency-limits", "settings")
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")


def _root_path(value: str) -> str:
    """The prefix as the app uses it: '' (none) or '/a/b' (leading slash, none at the end).
    ValueError, in one sentence, for one a URL cannot carry or that takes one of the server's
    own paths."""
    text = value.strip()
    if text in ("", "/"):
        return ""
    segments = text.strip("/").split("/")
    if not text.startswith("/"):
        raise ValueError("a path that starts with '/', like '/transom'")
    bad = next((s for s in segments if not _PATH_SEGMENT.match(s) or s in (".", "..")), None)
    if bad is not None:
        raise ValueError(f"a path of letters, digits and . _ ~ - between its slashes (not "
                         f"{bad!r})")
    if segments[0] in _SERVER_PATHS:
        raise ValueError(f"a path that does not begin with /{segments[0]}, a path of the server "
                         "itself (like '/transom')")
    return "/" + "/".join(segments)




class Settings(BaseSettings):
    """Every setting of Transom; env var = TRANSOM_ + the upper-case name."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    home: Path = Field(default_factory=lambda: Path(default_home()),
                       description="Where the embedded database, results, logs and profiles live.")
    profile: str = Field(DEFAULT_PROFILE, description="The active profile in TRANSOM_HOME/profiles.toml.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite at HOME/transom.db.")
    api_url: str | None = Field(None, description="Report runs to this server instead of the embedded database.")
    api_key: str | None = Field(None, description="API key the client sends to the server.")
    api_auth_string: str | None = Field(None, description="user:password the client sends (basic auth).")
    secrets_key: str | None = Field(None, description="The Fernet key secrets of blocks are encrypted with where they are stored (the server's, or the embedded database's); default: a key file made in HOME/secrets.key.")
    server_api_host: str = Field("127.0.0.1", description="Address `transom server start` binds.")
    server_api_port: int = Field(4200, ge=1, le=65535, description="Port `transom server start` binds.")
    server_api_auth_string: str | None = Field(None, description="user:password the server requires.")
    server_api_key: str | None = Field(None, description="API key the server requires.")
    server_allowed_hosts: str = Field("", description="Host names the server answers besides loopback names and server_api_host, comma-separated ('*': any); others get 400 (DNS rebinding).")
    server_root_path: str = Field("", description="The path prefix the server is reached under behind a reverse proxy ('/transom'); the proxy may pass it on or strip it.")
    server_max_body_bytes: int = Field(32 * 2**20, ge=1024, description="The largest request body the server reads (bytes); a larger one gets 413.")
    logging_level: str = Field("INFO", description="Level of run loggers and console output.")
    log_prints: bool = Field(False, description="Capture print() inside flows and tasks as run logs.")
    results_persist: bool = Field(False, description="Persist every result by default.")
    results_storage: str | None = Field(None, description="Where persisted results go; default HOME/storage.")
    results_serializer: Literal["pickle", "json"] = Field("pickle", description="Default serializer: pickle or json.")
    task_runner_max_workers: int | None = Field(None, ge=1, description="Threads of the default task runner.")
    sqlite_busy_timeout: float = Field(30.0, ge=0, description="Seconds SQLite waits on a locked database.")
    debug: bool = Field(False, description="Show tracebacks for errors.")
    worker_poll_interval: float = Field(0.5, gt=0, description="Seconds between a worker's polls for due runs (each poll is also its heartbeat).")
    worker_prefetch_seconds: float = Field(2.0, ge=0, description="A worker claims runs due this many seconds ahead and starts them early, so they begin on time.")
    worker_cancel_grace: float = Field(10.0, ge=0, description="Seconds a cancelled run's processes get to stop before they are killed.")
    server_services: bool = Field(True, description="Run the scheduler and the late and crashed run detection in the server.")
    server_scheduler_interval: float = Field(10.0, gt=0, description="Seconds between the scheduler's passes.")
    server_scheduler_window: float = Field(3600.0, gt=0, description="How far ahead (seconds) the scheduler makes the runs of schedules.")
    server_services_interval: float = Field(5.0, gt=0, description="Seconds between passes of the late and crashed run detection.")
    server_late_after: float = Field(15.0, ge=0, description="A Scheduled run not started this many seconds after its time is marked Late.")
    server_worker_timeout: float = Field(30.0, gt=0, description="A worker silent this many seconds is lost: its runs end Crashed.")
    run_heartbeat_interval: float = Field(10.0, gt=0, description="Seconds between the heartbeats of a process that runs flows (with no worker).")
    run_heartbeat_timeout: float = Field(60.0, gt=0, description="A flow run whose process has not heart-beaten for this many seconds ends Crashed (at once if its process is gone from this machine).")
    concurrency_lease_seconds: float = Field(30.0, ge=1, le=86400, description="A concurrency slot is a lease of this many seconds, renewed by its holder every third of it: a holder that dies (kill -9) frees its slot within this time.")
    concurrency_names_cache_seconds: float = Field(2.0, ge=0, le=3600, description="How long a process trusts its list of which concurrency limits exist before it checks a tagged task run's tags against the database again (0: every time).")

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _warnings: tuple[str, ...] = PrivateAttr(default=())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the values `load` passes in: never os.environ, .env files or secret dirs behind
        # the caller's back (tests and workers hand in their own environ mapping).
        return (init_settings,)

    @field_validator("server_root_path")
    @classmethod
    def _normal_root_path(cls, value: str) -> str:
        return _root_path(value)

    @field_validator("logging_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError("one of " + ", ".join(_LOG_LEVELS))
        return level

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `environ` (default os.environ), the active profile and defaults.

        `overrides` (field names) win over everything. Raises ConfigError for an unknown key in
        the profile file or a value of the wrong type; unknown TRANSOM_* variables only warn.
        """
        env = os.environ if environ is None else environ
        for name in overrides:
            if name not in cls.model_fields:
                normalize_key(name)  # raises with a suggestion
        env_values, warnings = _read_environ(env)
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}

        home, sources["home"] = resolve_home(env, overrides.get("home"))
        values["home"] = home
        profiles = ProfilesFile.read(home)
        name, sources["profile"] = active_profile(env, profiles, overrides.get("profile"))
        profile_values = profiles.get(name, origin=sources["profile"])
        values["profile"] = name

        for key, value in profile_values.items():
            values[key], sources[key] = value, f"profile:{name}"
        for key, value in env_values.items():
            if key not in _ENV_ONLY:
                values[key], sources[key] = value, "env"
        for key, value in overrides.items():
            if key not in _ENV_ONLY:  # home and profile were resolved above
                values[key], sources[key] = value, "override"
        sources = {key: sources.get(key, "default") for key in cls.model_fields}

        try:
            settings = cls(**values)
        except ValidationError as exc:
            raise _config_error(exc, sources, profiles) from None
        settings._sources = sources
        settings._warnings = tuple(warnings)
        for message in warnings:
            logger.warning(message)
        return settings

    def sources(self) -> dict[str, str]:
        """Where each value came from: "env", "profile:NAME", "override" or "default"."""
        return dict(self._sources) or {name: "default" for name in type(self).model_fields}

    def load_warnings(self) -> tuple[str, ...]:
        """Problems found while loading that were not fatal (unknown TRANSOM_* variables)."""
        return self._warnings

    @property
    def profiles_path(self) -> Path:
        return self.home / PROFILES_FILE

    @property
    def database_url_resolved(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'transom.db'}"

    @property
    def results_storage_resolved(self) -> str:
        return self.results_storage or str(self.home / "storage")


SETTING_NAMES: tuple[str, ...] = tuple(Settings.model_fields)
SECRET_SETTINGS = frozenset({"api_key", "api_auth_string", "server_api_key", "server_api_auth_string",
                             "secrets_key"})


def resolve_home(environ: Mapping[str, str], override: Any = None) -> tuple[Path, str]:
    """TRANSOM_HOME (an override, else the environ, else the OS default) and where it came from."""
    raw = override if override is not None else environ.get(env_var("home")) or None
    if raw is None:
        return Path(default_home(current_platform(), environ)), "default"
    home = _absolute_home(expand_user(str(raw), current_platform(), environ))
    return Path(home), "override" if override is not None else "env"


def active_profile(environ: Mapping[str, str], profiles: ProfilesFile,
                   override: Any = None) -> tuple[str, str]:
    """The active profile's name (override, TRANSOM_PROFILE, the file's `active`) and its source."""
    if override is not None:
        return str(override), "override"
    if environ.get(env_var("profile")):
        return environ[env_var("profile")], "env"
    if profiles.exists:
        return profiles.active, f"profile:{profiles.active}"
    return DEFAULT_PROFILE, "default"


def env_var(name: str) -> str:
    """The environment variable of a setting: `server_api_port` -> `TRANSOM_SERVER_API_PORT`."""
    return ENV_PREFIX + name.upper()


def normalize_key(key: str) -> str:
    """A setting name from `server_api_port`, `server-api-port` or `TRANSOM_SERVER_API_PORT`."""
    name = key.strip().lower().replace("-", "_")
    if name.startswith(ENV_PREFIX.lower()):
        name = name[len(ENV_PREFIX):]
    if name in Settings.model_fields:
        return name
    raise ConfigError(f"unknown setting {key!r}{_suggest(name)}; `transom config view` lists them all")


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, SETTING_NAMES, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe_expected(name: str) -> str:
    """What a setting's value must be, in words: "a whole number", "true or false", ..."""
    annotation = Settings.model_fields[name].annotation
    kind = annotation
    if get_origin(annotation) is not Literal:  # `int | None` -> int
        kind = next((a for a in get_args(annotation) if a is not type(None)), annotation)
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(kind))
    if name == "logging_level":
        return "one of " + ", ".join(_LOG_LEVELS)
    words: dict[Any, str] = {int: "a whole number", float: "a number", bool: "true or false",
                             Path: "a folder path"}
    return words.get(kind, "text")


def coerce_setting(name: str, value: Any) -> Any:
    """Validate one value for `name` (a field name) and return it as TOML can store it."""
    if name in _ENV_ONLY:
        raise ConfigError(f"{name} cannot be stored in a profile; set {env_var(name)} in the environment")
    try:
        checked = Settings.__pydantic_validator__.validate_assignment(
            Settings.model_construct(), name, value)
    except ValidationError as exc:
        raise ConfigError(f"{name} must be {_why(exc, name)}, got {value!r}") from None
    result = getattr(checked, name)
    return str(result) if isinstance(result, Path) else result


def mask_secret(name: str, value: Any) -> Any:
    """Hide secrets for display: API keys, auth strings and the password inside a database URL."""
    if value is None or value == "":
        return value
    if name in SECRET_SETTINGS or name.endswith("_auth_string"):
        return "********"
    if name == "database_url" and isinstance(value, str):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1********@", value)
    return value


@dataclass
class ProfilesFile:
    """TRANSOM_HOME/profiles.toml: the active profile's name and each profile's raw values."""

    path: Path
    active: str = DEFAULT_PROFILE
    profiles: dict[str, dict[str, Any]] = field(default_factory=lambda: {DEFAULT_PROFILE: {}})
    exists: bool = False

    @classmethod
    def read(cls, home: Path) -> ProfilesFile:
        """Read the profiles of `home` (none yet is fine); malformed files raise ConfigError."""
        path = home / PROFILES_FILE
        try:
            text = path.read_text(encoding="utf-8-sig")  # Notepad may add a BOM
        except (FileNotFoundError, NotADirectoryError):  # no home yet (or one that cannot exist)
            return cls(path)
        except (PermissionError, IsADirectoryError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path} ({_reason(exc)}); fix its permissions or move TRANSOM_HOME") from None
        except OSError as exc:
            raise ConfigError(f"cannot read {path} ({_reason(exc)}); check TRANSOM_HOME") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}); fix or delete the file") from None
        active = data.get("active", DEFAULT_PROFILE)
        raw = data.get("profiles", {})
        if not isinstance(active, str) or not isinstance(raw, dict) or not all(
                isinstance(v, dict) for v in raw.values()):
            raise ConfigError(f"{path} must hold `active = \"name\"` and [profiles.NAME] tables; fix or delete it")
        profiles = {DEFAULT_PROFILE: {}, **{str(k): dict(v) for k, v in raw.items()}}
        return cls(path, active, profiles, exists=True)

    def get(self, name: str, origin: str = "") -> dict[str, Any]:
        """The values of profile `name` by setting name; unknown keys raise ConfigError."""
        if name not in self.profiles:
            where = "TRANSOM_PROFILE" if origin == "env" else f"`active` in {self.path}"
            raise ConfigError(
                f"profile {name!r} (from {where}) does not exist; create it with "
                f"`transom profile create {name}` or pick one of: {', '.join(sorted(self.profiles))}"
            )
        values: dict[str, Any] = {}
        for key, value in self.profiles[name].items():
            try:
                setting = normalize_key(key)
            except ConfigError:
                close = _suggest(key.strip().lower().replace("-", "_"))
                raise ConfigError(
                    f"profile {name!r} in {self.path} has an unknown setting {key!r}{close}; "
                    f"remove it with `transom config unset {key}`"
                ) from None
            if setting in _ENV_ONLY:
                raise ConfigError(
                    f"profile {name!r} in {self.path} sets {key!r}, which only the environment can set "
                    f"({env_var(setting)}); remove it with `transom config unset {key}`"
                )
            values[setting] = value
        return values

    def write(self) -> None:
        """Save atomically (write a temporary file, then replace), creating TRANSOM_HOME if needed."""
        import tomli_w

        data: dict[str, Any] = {"active": self.active,
                                "profiles": {k: dict(v) for k, v in sorted(self.profiles.items())}}
        temp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(tomli_w.dumps(data), encoding="utf-8")
            os.replace(temp, self.path)
        except OSError as exc:
            try:
                temp.unlink()
            except OSError:
                pass
            raise ConfigError(
                f"cannot write {self.path} ({_reason(exc)}); make TRANSOM_HOME writable or point it elsewhere"
            ) from None
        self.exists = True

    @staticmethod
    def check_name(name: str) -> str:
        """A valid profile name (letters, digits, `_`, `-`, `.`), else ConfigError."""
        if not _PROFILE_NAME.match(name):
            raise ConfigError(f"profile name {name!r} may only hold letters, digits, '_', '-' and '.'")
        return name


def _read_environ(env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    warnings: list[str] = []
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key.startswith(ENV_PREFIX + "_"):
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name in Settings.model_fields and key == env_var(name):
            if value != "":  # an empty variable means unset (Windows `set X=` style)
                values[name] = value
        elif key not in RESERVED_ENV_VARS:
            close = difflib.get_close_matches(name, SETTING_NAMES, n=1, cutoff=0.6)
            hint = f" (did you mean {env_var(close[0])}?)" if close else ""
            warnings.append(f"ignoring unknown environment variable {key}{hint}")
    return values, warnings


def _absolute_home(home: str) -> str:
    # Drive and UNC homes are kept as written (they are absolute on Windows); a relative POSIX or
    # Windows path is anchored to the current folder so it does not move when the cwd changes.
    if is_windows_absolute(home) or os.path.isabs(home):
        return home
    return os.path.abspath(home)


def _why(exc: ValidationError, name: str) -> str:
    error = exc.errors()[0]
    kind = str(error.get("type", ""))
    if kind.endswith("_parsing") or kind.endswith("_type") or kind == "literal_error":
        return describe_expected(name)
    message = str(error.get("msg", "valid"))
    message = message.removeprefix("Value error, ").removeprefix("Input should be ")
    return message[0].lower() + message[1:] if message else describe_expected(name)


def _config_error(exc: ValidationError, sources: Mapping[str, str], profiles: ProfilesFile) -> ConfigError:
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error.get("loc") else "?"
    value = error.get("input")
    source = sources.get(name, "default")
    if source == "env":
        where = env_var(name)
        fix = "fix or unset it"
    elif source.startswith("profile:"):
        where = f"{name} in profile {source.split(':', 1)[1]!r} ({profiles.path})"
        fix = f"fix it with `transom config set {name}=...`"
    else:
        where, fix = name, "pass a valid value"
    return ConfigError(f"{where} must be {_why(exc, name)}, got {value!r}; {fix}")


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return exc.strerror or type(exc).__name__
