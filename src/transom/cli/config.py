"""`transom config view|set|unset` and `transom profile ls|create|use|delete|inspect`.

Settings are read from the environment, the active profile in TRANSOM_HOME/profiles.toml and
defaults; `set` and `unset` change the active profile. Keys are accepted as `server_api_port`,
`server-api-port` or `TRANSOM_SERVER_API_PORT`. Deleting the active profile is refused rather
than silently switching to another one, since that would change settings under the user's feet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from transom.cli.help import Typer
from transom.cli.output import console, error_console, print_table
from transom.exceptions import ConfigError
from transom.settings import (
    DEFAULT_PROFILE,
    ProfilesFile,
    Settings,
    active_profile,
    coerce_setting,
    env_var,
    mask_secret,
    normalize_key,
    resolve_home,
)

__all__ = ["app", "profile_app"]

app = Typer(no_args_is_help=True)
profile_app = Typer(no_args_is_help=True)


def _environ() -> Mapping[str, str]:
    """The process environment: the CLI is the edge where it is read."""
    return os.environ


def _open_profiles() -> tuple[ProfilesFile, str, str]:
    """The profiles file, the active profile's name and where that choice came from."""
    env = _environ()
    home, _ = resolve_home(env)
    profiles = ProfilesFile.read(home)
    name, source = active_profile(env, profiles)
    return profiles, name, source


def _show(name: str, value: Any, show_secrets: bool) -> Text:
    shown = value if show_secrets else mask_secret(name, value)
    if shown is None:
        return Text("-", style="dim")
    if isinstance(shown, bool):
        return Text(str(shown).lower())
    return Text(str(shown))


@app.command("view")
def view(
    show_secrets: bool = typer.Option(False, "--show-secrets", help="Show API keys and passwords."),
) -> None:
    """Show every setting, its value, and where it came from (env, profile or default)."""
    settings = Settings.load(_environ())
    sources = settings.sources()
    table = Table(title=f"profile: {settings.profile}  ({settings.profiles_path})", title_justify="left")
    table.add_column("key")
    table.add_column("value", overflow="fold")
    table.add_column("source")
    for name in type(settings).model_fields:
        source = sources[name]
        shown_source = env_var(name) if source == "env" else source
        table.add_row(name, _show(name, getattr(settings, name), show_secrets),
                      Text(shown_source, style="dim" if source == "default" else ""))
    print_table(table)  # load warnings (unknown TRANSOM_* variables) were logged to stderr


@app.command("set")
def set_values(
    assignments: list[str] = typer.Argument(..., metavar="KEY=VALUE",
                                            help="Settings to store in the active profile."),
) -> None:
    """Validate and store settings in the active profile, e.g. `transom config set server_api_port=4300`."""
    changes: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{item!r} is not KEY=VALUE; write it as e.g. server_api_port=4300")
        name = normalize_key(key)
        changes[name] = coerce_setting(name, raw.strip())
    profiles, profile, source = _open_profiles()
    _require_profile(profiles, profile, source)
    profiles.profiles.setdefault(profile, {})
    target = profiles.profiles[profile]
    for name, value in changes.items():
        _drop_spellings(target, name)
        target[name] = value
    _check_profile(profiles, profile)
    profiles.write()
    env = _environ()
    for name, value in changes.items():
        console().print(Text(f"Set {name} = {mask_secret(name, value)} in profile {profile!r}."))
        if env.get(env_var(name)):
            error_console().print(Text(
                f"Note: {env_var(name)} is set in the environment and takes precedence over the profile."))


@app.command("unset")
def unset_values(
    keys: list[str] = typer.Argument(..., metavar="KEY", help="Settings to remove from the active profile."),
) -> None:
    """Remove settings from the active profile, so their defaults (or the environment) apply."""
    profiles, profile, source = _open_profiles()
    _require_profile(profiles, profile, source)
    target = profiles.profiles.get(profile, {})
    removed: list[str] = []
    for key in keys:
        # Keys that are not (or no longer) valid settings can be removed by their literal name.
        if key in target:
            del target[key]
            removed.append(key)
            continue
        name = normalize_key(key)
        if not _drop_spellings(target, name):
            raise ConfigError(f"{name} is not set in profile {profile!r}; `transom config view` shows where it comes from")
        removed.append(name)
    profiles.write()
    for name in removed:
        console().print(Text(f"Unset {name} in profile {profile!r}."))


def _drop_spellings(values: dict[str, Any], name: str) -> bool:
    """Remove every spelling of setting `name` from a profile's values; True if one was there."""
    found = False
    for key in list(values):
        try:
            same = normalize_key(key) == name
        except ConfigError:
            same = False
        if same:
            del values[key]
            found = True
    return found


def _require_profile(profiles: ProfilesFile, name: str, source: str) -> None:
    if name not in profiles.profiles:
        profiles.get(name, origin=source)  # raises the "does not exist" ConfigError


def _check_profile(profiles: ProfilesFile, name: str) -> None:
    profiles.get(name)  # unknown keys already in the file: refuse to write on top of them


# -- profiles ---------------------------------------------------------------------------------
@profile_app.command("ls")
def list_profiles() -> None:
    """List the profiles; the active one is marked with *."""
    profiles, active, source = _open_profiles()
    for name in sorted(profiles.profiles):
        if name == active:
            note = " (from TRANSOM_PROFILE)" if source == "env" else ""
            console().print(Text(f"* {name}{note}", style="bold"))
        else:
            console().print(Text(f"  {name}"))
    if active not in profiles.profiles:
        error_console().print(Text(f"Warning: the active profile {active!r} does not exist."))


@profile_app.command("create")
def create_profile(
    name: str = typer.Argument(..., help="Name of the new profile."),
    from_: str | None = typer.Option(None, "--from", help="Copy the settings of this profile."),
) -> None:
    """Create a profile, empty or as a copy of another one."""
    ProfilesFile.check_name(name)
    profiles, _, _ = _open_profiles()
    if name in profiles.profiles:
        raise ConfigError(f"profile {name!r} already exists; pick another name or `transom profile delete {name}` first")
    values: dict[str, Any] = {}
    if from_ is not None:
        if from_ not in profiles.profiles:
            raise ConfigError(f"cannot copy profile {from_!r}: it does not exist; `transom profile ls` lists them")
        values = dict(profiles.profiles[from_])
    profiles.profiles[name] = values
    profiles.write()
    copied = f" from {from_!r}" if from_ else ""
    console().print(Text(f"Created profile {name!r}{copied}; switch to it with `transom profile use {name}`."))


@profile_app.command("use")
def use_profile(name: str = typer.Argument(..., help="The profile to make active.")) -> None:
    """Make a profile the active one (stored in TRANSOM_HOME/profiles.toml)."""
    profiles, _, _ = _open_profiles()
    if name not in profiles.profiles:
        raise ConfigError(f"profile {name!r} does not exist; create it with `transom profile create {name}`")
    profiles.get(name)  # refuse to activate a profile holding unknown keys
    profiles.active = name
    profiles.write()
    console().print(Text(f"Active profile is now {name!r}."))
    env_profile = _environ().get(env_var("profile"))
    if env_profile and env_profile != name:
        error_console().print(Text(
            f"Note: TRANSOM_PROFILE={env_profile} is set in the environment and takes precedence."))


@profile_app.command("delete")
def delete_profile(name: str = typer.Argument(..., help="The profile to delete.")) -> None:
    """Delete a profile; the active one and `default` cannot be deleted."""
    profiles, active, _ = _open_profiles()
    if name not in profiles.profiles:
        raise ConfigError(f"profile {name!r} does not exist; `transom profile ls` lists them")
    if name == DEFAULT_PROFILE:
        raise ConfigError("the default profile cannot be deleted; clear its values with `transom config unset`")
    if name in (active, profiles.active):
        raise ConfigError(
            f"profile {name!r} is active; switch first with `transom profile use {DEFAULT_PROFILE}`, then delete it")
    del profiles.profiles[name]
    profiles.write()
    console().print(Text(f"Deleted profile {name!r}."))


@profile_app.command("inspect")
def inspect_profile(
    name: str | None = typer.Argument(None, help="The profile to show (default: the active one)."),
    show_secrets: bool = typer.Option(False, "--show-secrets", help="Show API keys and passwords."),
) -> None:
    """Show the values stored in a profile."""
    profiles, active, _ = _open_profiles()
    target = active if name is None else name
    if target not in profiles.profiles:
        raise ConfigError(f"profile {target!r} does not exist; `transom profile ls` lists them")
    values = profiles.profiles[target]
    if not values:
        console().print(Text(f"Profile {target!r} holds no settings; defaults and the environment apply."))
        return
    table = Table(title=f"profile: {target}", title_justify="left")
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key, value in sorted(values.items()):
        table.add_row(key, _show(key, value, show_secrets))
    print_table(table)
