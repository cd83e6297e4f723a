"""`transom.testing.utilities`: run flows in tests against a throwaway home and database.

    @pytest.fixture(autouse=True, scope="session")
    def transom_test_fixture():
        with transom_test_harness():
            yield

Inside the harness TRANSOM_HOME is a new temporary folder, so runs, logs and results go to an
embedded database there; every other TRANSOM_ setting of the environment (a server's
TRANSOM_API_URL, a database URL, a profile) is set aside, so a test never reports to a real
server. On exit the runs recorded are flushed, the process's runtime is reset and the
environment is restored. `prefect_test_harness` is the same function under Prefect's name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from transom.core.context import reset_runtime

__all__ = ["prefect_test_harness", "transom_test_harness"]

_PREFIX = "TRANSOM_"
_INTERNAL = "TRANSOM__"  # the worker's own variables (not settings) are left alone


@contextmanager
def transom_test_harness() -> Iterator[Path]:
    """A temporary TRANSOM_HOME (yielded) with its embedded database, for the duration."""
    env = os.environ
    saved = {key: value for key, value in env.items()
             if key.startswith(_PREFIX) and not key.startswith(_INTERNAL)}
    reset_runtime()  # runs recorded before the harness go where they were going
    with tempfile.TemporaryDirectory(prefix="transom-test-", ignore_cleanup_errors=True) as home:
        for key in saved:
            del env[key]
        env["TRANSOM_HOME"] = home
        try:
            yield Path(home)
        finally:
            reset_runtime()  # flush this session's runs into the temporary database, close it
            from transom.services.slots import close_limiters

            close_limiters()  # and the concurrency limits' connections to it
            for key in [k for k in env if k.startswith(_PREFIX) and not k.startswith(_INTERNAL)]:
                del env[key]
            env.update(saved)


prefect_test_harness = transom_test_harness
