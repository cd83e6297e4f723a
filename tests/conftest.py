"""Suite-wide: every test process records into a throwaway TRANSOM_HOME, never the user's."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator

import pytest

from tests.support.postgres import EXTERNAL_URL_ENV, ExternalPostgres, PostgresServer, find_pg_bin

# The Windows lane's markers (`wine`, `wine_lacks(...)`) are valid in every run; the plugin acts
# only under Wine (scripts/windows-lane), elsewhere the markers change nothing.
pytest_plugins = ["tests.wine.plugin"]


@pytest.fixture(scope="session", autouse=True)
def _isolated_transom_home() -> Iterator[str]:
    previous = os.environ.get("TRANSOM_HOME")
    with tempfile.TemporaryDirectory(prefix="transom-test-home-") as home:
        os.environ["TRANSOM_HOME"] = home
        try:
            yield home
        finally:
            from transom.core.context import reset_runtime

            reset_runtime()
            if previous is None:
                os.environ.pop("TRANSOM_HOME", None)
            else:
                os.environ["TRANSOM_HOME"] = previous


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | ExternalPostgres]:
    """One real PostgreSQL server for the whole session, on 127.0.0.1: started here, or the one
    named by TRANSOM_TEST_POSTGRES_URL (the Windows lane starts one on the Linux side)."""
    if os.environ.get(EXTERNAL_URL_ENV):
        external = ExternalPostgres(os.environ[EXTERNAL_URL_ENV])
        try:
            yield external
        finally:
            external.stop()
        return
    bin_dir = find_pg_bin()
    if bin_dir is None:
        if os.environ.get("TRANSOM_TEST_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL (initdb) is not installed, and TRANSOM_TEST_REQUIRE_POSTGRES "
                        "says the PostgreSQL tests must run")
        pytest.skip("PostgreSQL is not installed here (initdb not found)")
    server = PostgresServer(bin_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


_database_numbers = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer | ExternalPostgres) -> str:
    """A new, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"t{next(_database_numbers)}")
