"""What a worker and its run processes agree on, known to the layers that need it."""

from __future__ import annotations


def test_services_know_how_a_worker_hands_a_run_over() -> None:
    from transom.services.backend import WORKER_RUN_VARIABLES, reporting
    from transom.settings import Settings
    from transom.worker.protocol import RUN_ENV, RUN_FILE_ENV

    assert WORKER_RUN_VARIABLES == (RUN_FILE_ENV, RUN_ENV)
    api = Settings.load({}, api_url="http://127.0.0.1:9/api")
    assert reporting(api, under_worker=False).patience == 5.0  # a person's run spools soon
    assert reporting(api, under_worker=True).patience is None  # a worker's waits it out
