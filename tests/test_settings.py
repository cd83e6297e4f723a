"""Settings: environ mapping > active profile > defaults, real profiles.toml files in tmp_path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from transom.exceptions import ConfigError
from transom.settings import (
    ProfilesFile,
    Settings,
    coerce_setting,
    mask_secret,
    normalize_key,
)


def write_profiles(home: Path, text: str, encoding: str = "utf-8") -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "profiles.toml"
    path.write_text(text, encoding=encoding)
    return path


def env_for(home: Path, **variables: str) -> dict[str, str]:
    return {"TRANSOM_HOME": str(home), **{f"TRANSOM_{k.upper()}": v for k, v in variables.items()}}


def test_defaults_with_no_profile_file(tmp_path: Path) -> None:
    settings = Settings.load(env_for(tmp_path))
    assert settings.home == tmp_path
    assert settings.profile == "default"
    assert settings.server_api_host == "127.0.0.1" and settings.server_api_port == 4200
    assert settings.database_url_resolved == f"sqlite:///{tmp_path / 'transom.db'}"
    assert settings.results_storage_resolved == str(tmp_path / "storage")
    sources = settings.sources()
    assert sources["home"] == "env" and sources["server_api_port"] == "default"
    assert list(sources) == list(Settings.model_fields)
    assert not (tmp_path / "profiles.toml").exists()  # loading writes nothing


def test_os_environ_is_not_read_when_a_mapping_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSOM_SERVER_API_PORT", "9999")
    monkeypatch.setenv("TRANSOM_PROFILE", "nope")
    settings = Settings.load(env_for(tmp_path))
    assert settings.server_api_port == 4200 and settings.profile == "default"


def test_os_environ_is_the_default_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSOM_HOME", str(tmp_path))
    monkeypatch.setenv("TRANSOM_SERVER_API_PORT", "4321")
    assert Settings.load().server_api_port == 4321


def test_environ_beats_profile_beats_default(tmp_path: Path) -> None:
    write_profiles(tmp_path, 'active = "dev"\n[profiles.dev]\nserver_api_port = 4300\n'
                             'logging_level = "debug"\nlog_prints = true\n')
    settings = Settings.load(env_for(tmp_path, server_api_port="4400"))
    assert settings.server_api_port == 4400
    assert settings.logging_level == "DEBUG" and settings.log_prints is True
    assert settings.server_api_host == "127.0.0.1"
    sources = settings.sources()
    assert sources["server_api_port"] == "env"
    assert sources["logging_level"] == "profile:dev"
    assert sources["server_api_host"] == "default"
    assert sources["profile"] == "profile:dev"


def test_overrides_beat_everything(tmp_path: Path) -> None:
    settings = Settings.load(env_for(tmp_path, server_api_port="4400"), server_api_port=5000)
    assert settings.server_api_port == 5000 and settings.sources()["server_api_port"] == "override"
    other = tmp_path / "other"
    write_profiles(other, '[profiles.ci]\nserver_api_port = 4300\n')
    moved = Settings.load(env_for(tmp_path), home=str(other), profile="ci")
    assert moved.home == other and moved.profile == "ci" and moved.server_api_port == 4300
    assert moved.sources()["home"] == "override" and moved.sources()["profile"] == "override"
    with pytest.raises(ConfigError, match="did you mean 'server_api_port'"):
        Settings.load(env_for(tmp_path), server_api_prot=1)


def test_transom_profile_picks_another_profile(tmp_path: Path) -> None:
    write_profiles(tmp_path, 'active = "dev"\n[profiles.dev]\nserver_api_port = 4300\n'
                             '[profiles.prod]\nserver_api_port = 80\n')
    settings = Settings.load(env_for(tmp_path, profile="prod"))
    assert settings.profile == "prod" and settings.server_api_port == 80
    assert settings.sources()["profile"] == "env"
    assert settings.sources()["server_api_port"] == "profile:prod"


def test_missing_profile_is_a_clear_error(tmp_path: Path) -> None:
    write_profiles(tmp_path, '[profiles.dev]\nserver_api_port = 4300\n')
    with pytest.raises(ConfigError) as info:
        Settings.load(env_for(tmp_path, profile="stagign"))
    message = str(info.value)
    assert "'stagign'" in message and "TRANSOM_PROFILE" in message and "default, dev" in message


def test_default_profile_always_exists(tmp_path: Path) -> None:
    assert Settings.load(env_for(tmp_path, profile="default")).profile == "default"


def test_unknown_key_in_profile_suggests_the_closest(tmp_path: Path) -> None:
    path = write_profiles(tmp_path, '[profiles.default]\nserver_api_prot = 4300\n')
    with pytest.raises(ConfigError) as info:
        Settings.load(env_for(tmp_path))
    message = str(info.value)
    assert "'server_api_prot'" in message and "did you mean 'server_api_port'" in message
    assert str(path) in message and "transom config unset server_api_prot" in message


def test_profile_keys_may_be_written_as_env_names(tmp_path: Path) -> None:
    write_profiles(tmp_path, '[profiles.default]\nTRANSOM_SERVER_API_PORT = 4300\n')
    assert Settings.load(env_for(tmp_path)).server_api_port == 4300


def test_home_cannot_come_from_a_profile(tmp_path: Path) -> None:
    write_profiles(tmp_path, '[profiles.default]\nhome = "/elsewhere"\n')
    with pytest.raises(ConfigError, match=r"only the environment can set .*TRANSOM_HOME"):
        Settings.load(env_for(tmp_path))


def test_bad_env_value_names_the_variable_and_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(env_for(tmp_path, server_api_port="abc"))
    assert str(info.value) == (
        "TRANSOM_SERVER_API_PORT must be a whole number, got 'abc'; fix or unset it")


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("log_prints", "maybe", "true or false"),
    ("sqlite_busy_timeout", "soon", "a number"),
    ("results_serializer", "xml", "one of pickle, json"),
    ("logging_level", "loud", "one of DEBUG, INFO"),
    ("server_api_port", "70000", "less than or equal to 65535"),
])
def test_bad_env_values(tmp_path: Path, key: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        Settings.load(env_for(tmp_path, **{key: value}))


def test_bad_profile_value_names_the_profile(tmp_path: Path) -> None:
    write_profiles(tmp_path, '[profiles.default]\nserver_api_port = "abc"\n')
    with pytest.raises(ConfigError) as info:
        Settings.load(env_for(tmp_path))
    message = str(info.value)
    assert message.startswith("server_api_port in profile 'default'")
    assert "a whole number" in message and "transom config set" in message


def test_unknown_environment_variable_only_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    env = env_for(tmp_path, servr_api_port="1", flow_run_id="x")
    env["TRANSOM__INTERNAL"] = "1"
    settings = Settings.load(env)
    assert settings.server_api_port == 4200
    assert settings.load_warnings() == (
        "ignoring unknown environment variable TRANSOM_SERVR_API_PORT "
        "(did you mean TRANSOM_SERVER_API_PORT?)",)
    assert "TRANSOM_SERVR_API_PORT" in caplog.text


def test_empty_environment_variable_means_unset(tmp_path: Path) -> None:
    write_profiles(tmp_path, '[profiles.default]\nserver_api_port = 4300\n')
    assert Settings.load(env_for(tmp_path, server_api_port="")).server_api_port == 4300


def test_malformed_profiles_file(tmp_path: Path) -> None:
    path = write_profiles(tmp_path, "active = \n")
    with pytest.raises(ConfigError, match="is not valid TOML") as info:
        Settings.load(env_for(tmp_path))
    assert str(path) in str(info.value)
    write_profiles(tmp_path, 'profiles = "x"\n')
    with pytest.raises(ConfigError, match=r"\[profiles.NAME\] tables"):
        Settings.load(env_for(tmp_path))


def test_profiles_file_written_by_notepad_with_a_bom(tmp_path: Path) -> None:
    write_profiles(tmp_path, '[profiles.default]\nresults_storage = "D:\\\\Запуск-数据"\n',
                   encoding="utf-8-sig")
    assert Settings.load(env_for(tmp_path)).results_storage == "D:\\Запуск-数据"


def test_default_home_comes_from_the_given_environment(tmp_path: Path) -> None:
    if sys.platform == "win32":
        settings = Settings.load({"USERPROFILE": str(tmp_path)})
    else:
        settings = Settings.load({"HOME": str(tmp_path)})
    assert settings.home == tmp_path / ".transom"
    assert settings.sources()["home"] == "default"


@pytest.mark.parametrize("home", [r"\\server\share\transom", r"C:\Users\ann\.transom", "D:/tr ans/ü"])
def test_unc_and_drive_homes_are_accepted(home: str) -> None:
    if sys.platform == "win32" and home.startswith("\\"):
        pytest.skip("a real Windows would try to reach the server")
    settings = Settings.load({"TRANSOM_HOME": home})
    assert str(settings.home).replace("/", "\\") == home.replace("/", "\\")


def test_home_tilde_and_relative_paths(tmp_path: Path) -> None:
    settings = Settings.load({"TRANSOM_HOME": "~/th", "HOME": str(tmp_path), "USERPROFILE": str(tmp_path)})
    assert settings.home == tmp_path / "th"
    assert Settings.load({"TRANSOM_HOME": "rel-home"}).home.is_absolute()


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = Settings.load(env_for(tmp_path))
    with pytest.raises(ValueError):
        settings.server_api_port = 1


def test_database_url_setting_wins_over_the_default(tmp_path: Path) -> None:
    url = "postgresql://user:pw@db:5432/transom"
    assert Settings.load(env_for(tmp_path, database_url=url)).database_url_resolved == url


# -- helpers used by `transom config` ----------------------------------------------------------


@pytest.mark.parametrize("key", ["server_api_port", "server-api-port", "TRANSOM_SERVER_API_PORT", " Server-Api-Port "])
def test_normalize_key_spellings(key: str) -> None:
    assert normalize_key(key) == "server_api_port"


def test_normalize_key_unknown() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'srever_api_port' \\(did you mean 'server_api_port'\\?\\)"):
        normalize_key("srever_api_port")
    with pytest.raises(ConfigError) as info:
        normalize_key("zzz")
    assert "did you mean" not in str(info.value)


def test_coerce_setting_returns_toml_ready_values() -> None:
    assert coerce_setting("server_api_port", "4300") == 4300
    assert coerce_setting("log_prints", "yes") is True
    assert coerce_setting("sqlite_busy_timeout", "2.5") == 2.5
    assert coerce_setting("logging_level", "warning") == "WARNING"
    with pytest.raises(ConfigError, match=r"^server_api_port must be a whole number, got 'x'$"):
        coerce_setting("server_api_port", "x")
    with pytest.raises(ConfigError, match="TRANSOM_HOME in the environment"):
        coerce_setting("home", "/x")


def test_mask_secret() -> None:
    assert mask_secret("api_key", "abc") == "********"
    assert mask_secret("server_api_auth_string", "u:p") == "********"
    assert mask_secret("api_key", None) is None
    assert mask_secret("database_url", "postgresql://u:s3cret@h:5432/db") == "postgresql://u:********@h:5432/db"
    assert mask_secret("database_url", "sqlite:///C:/x.db") == "sqlite:///C:/x.db"
    assert mask_secret("server_api_port", 4200) == 4200


def test_profiles_file_round_trip(tmp_path: Path) -> None:
    home = tmp_path / "new home"
    profiles = ProfilesFile.read(home)
    assert not profiles.exists and profiles.profiles == {"default": {}}
    profiles.profiles["dev"] = {"server_api_port": 4300, "results_storage": r"\\nas\Запуск"}
    profiles.active = "dev"
    profiles.write()
    again = ProfilesFile.read(home)
    assert again.exists and again.active == "dev"
    assert again.profiles["dev"] == {"server_api_port": 4300, "results_storage": r"\\nas\Запуск"}
    assert [p.name for p in home.iterdir()] == ["profiles.toml"]  # no temporary file left


def test_profiles_file_unwritable_home(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    profiles = ProfilesFile.read(tmp_path)
    profiles.path = blocker / "home" / "profiles.toml"
    with pytest.raises(ConfigError, match=r"cannot write .*make TRANSOM_HOME writable"):
        profiles.write()
