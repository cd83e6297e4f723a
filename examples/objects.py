"""One flow that uses every object a run leaves or reads beside its own record: a secret, a
variable, concurrency limits, artifacts, a pause for a person's approval and a run of another
deployment. With no server it all goes to the embedded database; with TRANSOM_API_URL set, to
that server.

    transom concurrency-limit create warehouse --tag --limit 1     # tag:warehouse, for load()
    transom concurrency-limit create warehouse-writes --limit 2
    transom variable set report-threshold 25
    python examples/objects.py                                    # add --approve to ask first
    transom runs resume ID --input '{"approved": true, "reviewer": "ada"}'
"""

from __future__ import annotations

import sys

from pydantic import BaseModel

from transom import flow, get_run_logger, pause_flow_run, task
from transom.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from transom.blocks.system import Secret
from transom.concurrency.sync import concurrency
from transom.deployments import run_deployment
from transom.variables import Variable


class Approval(BaseModel):
    approved: bool
    reviewer: str


@task(tags=["warehouse"])  # at most as many at once as the limit tag:warehouse says
def load(batch: int, password: str) -> int:
    with concurrency("warehouse-writes"):  # a slot of a global limit, across processes
        return (batch + 1) * 10 if password else 0


@flow(log_prints=True)
def nightly_report(batches: int = 3, approve: bool = False, then: str | None = None) -> int:
    logger = get_run_logger()
    # An operator saves the secret once; it is stored encrypted and loaded by name.
    Secret(value="warehouse-pw-8841").save("warehouse-password", overwrite=True)
    password = Secret.load("warehouse-password").get()
    logger.info("connecting to the warehouse with %s", password)  # stored as **********
    threshold = Variable.get("report-threshold", default=10)
    progress = create_progress_artifact(0.0, key="nightly-progress")
    rows = []
    for batch in range(batches):
        rows.append({"batch": batch, "rows": load(batch, password)})
        update_progress_artifact(progress, (batch + 1) * 100 / batches)
    total = sum(row["rows"] for row in rows)
    create_table_artifact(rows, key="nightly-rows", description="rows loaded per batch")
    create_markdown_artifact(f"# Nightly report\n\n**{total}** rows (threshold {threshold}).",
                             key="nightly-summary")
    if approve:
        answer = pause_flow_run(wait_for_input=Approval, timeout=600)
        print(f"approved: {answer.approved} by {answer.reviewer}")
    Variable.set("last-report-rows", total, overwrite=True)
    if then:  # another deployment's run, started now, not waited for
        started = run_deployment(then, parameters={}, timeout=0)
        print(f"started {started.name} of {then}")
    return total


if __name__ == "__main__":
    args = sys.argv[1:]
    nightly_report(approve="--approve" in args,
                   then=next((a.split("=", 1)[1] for a in args if a.startswith("--then=")), None))
