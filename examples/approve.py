"""A flow that waits for a person: run it, then resume it from anywhere with the answer.

    python examples/approve.py
    transom runs resume ID --input '{"approved": true, "reviewer": "ada"}'
"""

from __future__ import annotations

from pydantic import BaseModel

from transom import flow, get_run_logger, pause_flow_run


class Approval(BaseModel):
    approved: bool
    reviewer: str


@flow
def approve(report: str = "weekly numbers") -> str:
    answer = pause_flow_run(wait_for_input=Approval, timeout=600)  # Paused until resumed
    verdict = "approved" if answer.approved else "rejected"
    get_run_logger().info("%s %s by %s", report, verdict, answer.reviewer)
    return verdict


if __name__ == "__main__":
    approve()
