"""`transom.testing.utilities.transom_test_harness` (Prefect's `prefect_test_harness`): a test
session's runs go to a throwaway home and database, and nothing else is touched."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from transom import flow
from transom.services import open_backend
from transom.settings import Settings
from transom.testing.utilities import prefect_test_harness, transom_test_harness


@flow(name="harnessed")
def harnessed(n: int = 1) -> int:
    return n * 2


def test_runs_in_the_harness_go_to_a_temporary_home_and_the_environment_comes_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSOM_API_URL", "http://127.0.0.1:9/api")  # a server never reached
    monkeypatch.setenv("TRANSOM_RESULTS_PERSIST", "true")
    before = dict(os.environ)
    with transom_test_harness() as home:
        assert os.environ["TRANSOM_HOME"] == str(home) and home.is_dir()
        assert "TRANSOM_API_URL" not in os.environ
        assert "TRANSOM_RESULTS_PERSIST" not in os.environ
        state = harnessed(21, return_state=True)
        assert state.result() == 42
        with open_backend(Settings.load()) as backend:
            assert backend.read_flow_run(state.run_id).state_name == "Completed"
            assert backend.where.endswith(str(Path(home) / "transom.db"))
        os.environ["TRANSOM_LOGGING_LEVEL"] = "DEBUG"  # set inside: gone after
    assert dict(os.environ) == before
    assert not home.exists()


def test_prefect_test_harness_is_the_same_function() -> None:
    assert prefect_test_harness is transom_test_harness


CONFTEST = '''
import pytest
from transom.testing.utilities import prefect_test_harness

@pytest.fixture(autouse=True, scope="session")
def transom_test_fixture():
    with prefect_test_harness():
        yield
'''

TESTS = '''
import os
from transom import flow, get_client

@flow
def my_favorite_flow():
    return 42

def test_my_favorite_flow():
    assert my_favorite_flow() == 42

def test_the_run_is_in_the_harness_database():
    assert "TRANSOM_API_URL" not in os.environ
    my_favorite_flow()
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_name="my-favorite-flow")
        where = client.api_url
    assert len(runs) == 2 and all(r.state_name == "Completed" for r in runs)
    assert os.environ["TRANSOM_HOME"] in where  # the harness's home, not the user's
'''


def test_it_works_as_a_pytest_session_fixture_as_in_prefects_docs(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (project / "conftest.py").write_text(textwrap.dedent(CONFTEST), encoding="utf-8")
    (project / "test_flows.py").write_text(textwrap.dedent(TESTS), encoding="utf-8")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    # The user's own settings: a home and a server the tests must not report to.
    env.update(TRANSOM_HOME=str(home), TRANSOM_API_URL="http://127.0.0.1:9/api",
               PYTHONIOENCODING="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=project, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert not (home / "transom.db").exists()  # the user's database was never opened
