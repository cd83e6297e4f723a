"""`transom artifact ls/inspect/delete` in a real subprocess, over artifacts a real flow run
made: with no server (the embedded database of a fresh home) and against a live server."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.cli.conftest import Transom

from transom.schemas import ArtifactRead

FLOWS = textwrap.dedent("""
    from transom import flow
    from transom.artifacts import create_markdown_artifact, create_progress_artifact, \\
        create_table_artifact, update_progress_artifact

    @flow
    def report(week: int = 1):
        create_markdown_artifact(f"# Week {week}\\nAll loads done.", key="weekly-report",
                                 description="what the week loaded")
        create_table_artifact({"city": ["Oslo", "Lima"], "rows": [10, 20]}, key="loads")
        progress = create_progress_artifact(10, key="import")
        update_progress_artifact(progress, 75)
""")



def test_ls_inspect_delete_over_a_real_run(transom: Transom, backend_env: dict[str, str],
                                          tmp_path: Path) -> None:
    assert "No artifacts with a key yet" in transom("artifact", "ls", env=backend_env).stdout
    (tmp_path / "flows.py").write_text(FLOWS, encoding="utf-8")
    for week in ("1", "2"):
        done = transom("run", "flows.py:report", "--param", f"week={week}", env=backend_env)
        assert done.code == 0, done.stderr

    listed = [ArtifactRead.model_validate(a) for a in
              json.loads(transom("artifact", "ls", "-o", "json", env=backend_env).stdout)]
    assert sorted((a.key, a.version) for a in listed) == [
        ("import", 2), ("loads", 2), ("weekly-report", 2)]
    assert all(a.flow_run_id is not None for a in listed)
    table = transom("artifact", "ls", env=backend_env).stdout
    assert "Artifacts (3)" in table and "75%" in table and "2 columns" in table

    versions = transom("artifact", "ls", "--key", "weekly-report", env=backend_env).stdout
    assert "# Week 2 All loads done." in versions and "# Week 1 All loads done." in versions
    shown = transom("artifact", "inspect", "weekly-report", env=backend_env).stdout
    assert "version 2" in shown and "what the week loaded" in shown and "# Week 2" in shown
    data = json.loads(transom("artifact", "inspect", "loads", "-o", "json", env=backend_env).stdout)
    assert data["data"] == {"city": ["Oslo", "Lima"], "rows": [10, 20]}

    deleted = transom("artifact", "delete", "weekly-report", env=backend_env)
    assert "Artifact weekly-report deleted (2 versions)." in deleted.stdout, deleted.stderr
    transom("artifact", "inspect", "weekly-report", env=backend_env).assert_user_error(
        "no artifact with key 'weekly-report'")
    transom("artifact", "delete", "weekly-report", env=backend_env).assert_user_error(
        "no artifact with key 'weekly-report'")
