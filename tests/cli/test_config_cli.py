"""`transom config` and `transom profile` through the real command line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transom.settings import ProfilesFile

UNICODE = "Запуск-数据"
Transom = Callable[..., Any]  # the `transom` fixture of conftest.py


def row(output: str, key: str) -> list[str]:
    """The cells of a `config view` table row."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if cells and cells[0] == key:
            return cells
    raise AssertionError(f"no row {key!r} in:\n{output}")


def profiles_of(home: Path) -> ProfilesFile:
    return ProfilesFile.read(home)


def test_view_shows_values_and_sources(transom: Transom, home: Path) -> None:
    result = transom("config", "view", env={"TRANSOM_SERVER_API_HOST": "0.0.0.0"})
    assert result.code == 0, result.stderr
    assert row(result.stdout, "server_api_port") == ["server_api_port", "4200", "default"]
    assert row(result.stdout, "server_api_host") == ["server_api_host", "0.0.0.0", "TRANSOM_SERVER_API_HOST"]
    assert row(result.stdout, "home") == ["home", str(home), "TRANSOM_HOME"]


def test_set_with_every_key_spelling_then_view(transom: Transom, home: Path) -> None:
    result = transom("config", "set", "server_api_port=4300", "TRANSOM_LOG_PRINTS=true",
                     "results-storage=D:\\" + UNICODE)
    assert result.code == 0, result.stderr
    assert "Set server_api_port = 4300 in profile 'default'." in result.stdout
    stored = profiles_of(home).profiles["default"]
    assert stored == {"server_api_port": 4300, "log_prints": True, "results_storage": "D:\\" + UNICODE}
    view = transom("config", "view")
    assert row(view.stdout, "server_api_port") == ["server_api_port", "4300", "profile:default"]
    assert row(view.stdout, "log_prints") == ["log_prints", "true", "profile:default"]
    assert row(view.stdout, "results_storage")[1] == "D:\\" + UNICODE


def test_secrets_are_masked_unless_asked(transom: Transom) -> None:
    assert transom("config", "set", "api_key=sk-123", "server_api_auth_string=admin:pw").code == 0
    masked = transom("config", "view")
    assert row(masked.stdout, "api_key")[1] == "********"
    assert row(masked.stdout, "server_api_auth_string")[1] == "********"
    assert "sk-123" not in masked.stdout and "admin:pw" not in masked.stdout
    shown = transom("config", "view", "--show-secrets")
    assert row(shown.stdout, "api_key")[1] == "sk-123"


def test_set_warns_when_the_environment_wins(transom: Transom) -> None:
    result = transom("config", "set", "server_api_port=4300", env={"TRANSOM_SERVER_API_PORT": "4400"})
    assert result.code == 0
    assert "TRANSOM_SERVER_API_PORT is set in the environment and takes precedence" in result.stderr


def test_set_rejects_a_bad_value_without_writing(transom: Transom, home: Path) -> None:
    result = transom("config", "set", "server_api_port=abc")
    assert result.assert_user_error("server_api_port must be a whole number, got 'abc'")
    assert not (home / "profiles.toml").exists()


def test_set_rejects_an_unknown_key_with_a_suggestion(transom: Transom) -> None:
    transom("config", "set", "sever_api_port=1").assert_user_error(
        "unknown setting 'sever_api_port'", "did you mean 'server_api_port'")


def test_set_rejects_missing_equals_and_home(transom: Transom) -> None:
    transom("config", "set", "server_api_port").assert_user_error("is not KEY=VALUE")
    transom("config", "set", "home=/x").assert_user_error("set TRANSOM_HOME in the environment")


def test_set_in_an_unwritable_home(transom: Transom, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = transom("config", "set", "server_api_port=4300", env={"TRANSOM_HOME": str(blocker / "home")})
    result.assert_user_error("cannot", "TRANSOM_HOME")


def test_unset(transom: Transom, home: Path) -> None:
    transom("config", "set", "server_api_port=4300", "logging_level=debug")
    result = transom("config", "unset", "server-api-port")
    assert result.code == 0 and "Unset server_api_port in profile 'default'." in result.stdout
    assert profiles_of(home).profiles["default"] == {"logging_level": "DEBUG"}
    transom("config", "unset", "server_api_port").assert_user_error("server_api_port is not set in profile 'default'")


def test_unknown_key_in_profile_file_is_reported_and_can_be_unset(transom: Transom, home: Path) -> None:
    home.mkdir()
    (home / "profiles.toml").write_text('[profiles.default]\nserver_api_prot = 1\n', encoding="utf-8")
    transom("config", "view").assert_user_error("'server_api_prot'", "did you mean 'server_api_port'",
                                                "transom config unset server_api_prot")
    assert transom("config", "unset", "server_api_prot").code == 0
    assert transom("config", "view").code == 0


def make_profiles(home: Path, active: str, **profiles: dict[str, Any]) -> None:
    file = ProfilesFile.read(home)
    file.active = active
    file.profiles.update(profiles)
    file.write()


def test_profile_create_from_another_and_use(transom: Transom, home: Path) -> None:
    make_profiles(home, "default", default={"server_api_port": 4300})
    created = transom("profile", "create", "dev", "--from", "default")
    assert created.code == 0, created.stderr
    assert transom("profile", "use", "dev").code == 0
    assert transom("profile", "ls").stdout.splitlines() == ["  default", "* dev"]
    stored = profiles_of(home)
    assert stored.active == "dev" and stored.profiles["dev"] == {"server_api_port": 4300}


def test_set_writes_to_the_active_profile_only(transom: Transom, home: Path) -> None:
    make_profiles(home, "dev", default={"server_api_port": 4300}, dev={})
    assert transom("config", "set", "server_api_port=5000").code == 0
    stored = profiles_of(home)
    assert stored.profiles == {"default": {"server_api_port": 4300}, "dev": {"server_api_port": 5000}}
    view = transom("config", "view")
    assert row(view.stdout, "server_api_port") == ["server_api_port", "5000", "profile:dev"]
    inspected = transom("profile", "inspect", "default")
    assert row(inspected.stdout, "server_api_port") == ["server_api_port", "4300"]


def test_delete_refuses_the_active_and_default_profiles(transom: Transom, home: Path) -> None:
    make_profiles(home, "dev", dev={}, old={})
    transom("profile", "delete", "dev").assert_user_error(
        "profile 'dev' is active", "transom profile use default")
    transom("profile", "delete", "default").assert_user_error("cannot be deleted")
    assert transom("profile", "delete", "old").code == 0
    assert set(profiles_of(home).profiles) == {"default", "dev"}


def test_profile_errors(transom: Transom) -> None:
    transom("profile", "use", "nope").assert_user_error("profile 'nope' does not exist",
                                                        "transom profile create nope")
    transom("profile", "create", "default").assert_user_error("already exists")
    transom("profile", "create", "a b").assert_user_error("may only hold letters")


def test_profile_errors_about_missing_profiles(transom: Transom) -> None:
    transom("profile", "create", "x", "--from", "nope").assert_user_error("cannot copy profile 'nope'")
    transom("profile", "delete", "nope").assert_user_error("does not exist")


def test_transom_profile_variable_selects_and_is_marked(transom: Transom, home: Path) -> None:
    make_profiles(home, "default", ci={})
    env = {"TRANSOM_PROFILE": "ci"}
    listed = transom("profile", "ls", env=env)
    assert "* ci (from TRANSOM_PROFILE)" in listed.stdout
    assert transom("config", "set", "server_api_port=4999", env=env).code == 0
    assert profiles_of(home).profiles["ci"] == {"server_api_port": 4999}
    transom("config", "view", env={"TRANSOM_PROFILE": "cj"}).assert_user_error(
        "profile 'cj' (from TRANSOM_PROFILE) does not exist")


def test_bad_environment_value_is_one_sentence(transom: Transom) -> None:
    transom("config", "view", env={"TRANSOM_SERVER_API_PORT": "abc"}).assert_user_error(
        "TRANSOM_SERVER_API_PORT must be a whole number, got 'abc'")


def test_unknown_environment_variable_warns_but_works(transom: Transom) -> None:
    result = transom("config", "view", env={"TRANSOM_SERVR_API_PORT": "1"})
    assert result.code == 0
    assert "did you mean TRANSOM_SERVER_API_PORT?" in result.stderr


def test_legacy_code_page_help(transom: Transom) -> None:
    """W13: under a cp1252 console encoding, --help (box drawing characters) prints."""
    helped = transom("--help", env={"PYTHONIOENCODING": "cp1252"})
    assert helped.code == 0, helped.stderr
    assert "config" in helped.stdout and "charmap" not in helped.stderr


def test_legacy_code_page_never_breaks_output(transom: Transom) -> None:
    """W13: under a cp1252 console encoding, non-Latin values print as UTF-8."""
    legacy = {"PYTHONIOENCODING": "cp1252"}
    assert transom("config", "set", f"results_storage={UNICODE}", env=legacy).code == 0
    view = transom("config", "view", env=legacy)
    assert view.code == 0, view.stderr
    assert row(view.stdout, "results_storage")[1] == UNICODE
    assert "charmap" not in view.stderr
    error = transom("profile", "use", UNICODE, env=legacy)
    error.assert_user_error(f"profile '{UNICODE}' does not exist")
