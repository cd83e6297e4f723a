"""Suite-wide: every test process records into a throwaway TRANSOM_HOME, never the user's."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest


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
