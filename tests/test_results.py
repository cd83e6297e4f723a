"""Result storage: serialisers, expiration, odd keys, local folders and fsspec URLs."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from transom.core.states import now_utc
from transom.exceptions import ResultError, SerializationError
from transom.results import LocalResultStore, RemoteResultStore, open_result_store


@pytest.mark.parametrize("serializer", ["json", "pickle"])
def test_round_trip(tmp_path: Path, serializer: str) -> None:
    store = LocalResultStore(tmp_path / "results")
    value = {"rows": [1, 2, 3], "label": "Größe — 数据"}
    where = store.write("k1", value, serializer=serializer)
    assert Path(where).parent == tmp_path / "results"
    stored = store.read("k1")
    assert stored is not None and stored.value == value and stored.key == "k1"
    assert "Größe" in Path(where).read_text(encoding="utf-8") or serializer == "pickle"


def test_pickle_keeps_python_objects_json_refuses_them(tmp_path: Path) -> None:
    store = LocalResultStore(tmp_path)
    store.write("when", timedelta(days=2), serializer="pickle")
    assert store.read("when").value == timedelta(days=2)  # type: ignore[union-attr]
    with pytest.raises(SerializationError, match="cannot be stored as JSON"):
        store.write("when-json", timedelta(days=2), serializer="json")
    with pytest.raises(SerializationError, match="cannot be pickled"):
        store.write("lock", threading.Lock(), serializer="pickle")


def test_expired_results_read_as_missing(tmp_path: Path) -> None:
    store = LocalResultStore(tmp_path)
    now = now_utc()
    store.write("soon", 1, expiration=now + timedelta(minutes=5))
    assert store.read("soon", now=now) is not None
    assert store.read("soon", now=now + timedelta(minutes=6)) is None
    assert store.read("never-written") is None


def test_keys_that_are_not_file_names_are_hashed(tmp_path: Path) -> None:
    store = LocalResultStore(tmp_path)
    for key in ("../escape", "a/b\\c:d", "x" * 300, ".."):
        store.write(key, key)
        assert store.read(key).value == key  # type: ignore[union-attr]
    assert all(p.parent == tmp_path for p in tmp_path.iterdir())


def test_a_damaged_result_file_is_a_clear_error(tmp_path: Path) -> None:
    store = LocalResultStore(tmp_path)
    Path(store.write("k", 1)).write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultError, match="cannot be read back"):
        store.read("k")


def test_an_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ResultError, match="cannot write result 'k'"):
        LocalResultStore(blocker / "results").write("k", 1)


def test_windows_long_paths_get_the_extended_prefix() -> None:
    long_dir = "C:\\data\\" + "\\".join(["segment" * 5] * 8)
    store = LocalResultStore(long_dir, platform="win32")
    assert store.location == long_dir
    assert str(store.path).startswith("\\\\?\\C:\\")


def test_urls_go_through_fsspec_and_file_urls_stay_local(tmp_path: Path) -> None:
    remote = open_result_store("memory://transom-tests/results")
    assert isinstance(remote, RemoteResultStore)
    remote.write("k", [1, 2], serializer="json", expiration=now_utc() + timedelta(hours=1))
    assert remote.read("k").value == [1, 2]  # type: ignore[union-attr]
    assert remote.read("missing") is None
    local = open_result_store(f"file://{tmp_path}")
    assert isinstance(local, LocalResultStore)
