"""Re-tag the archive when the taxonomy version changes.

Daily: when an indexed article was tagged by another taxonomy version, re-tag every article
from its stored text into the next index version and swap the aliases atomically (searchers
keep getting results throughout). Otherwise nothing happens.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from kzmon.orchestration import START_DATE, TIMEOUTS, default_args


@dag(
    dag_id="kzmon_retag",
    description="Re-tag the archive into a new index version after a taxonomy change",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["kzmon", "index"],
    default_args=default_args(),
)
def kzmon_retag() -> None:
    """Re-tag into the next index version when the taxonomy version changed."""

    @task(execution_timeout=TIMEOUTS["index"] * 6)
    def retag_if_needed() -> dict:
        from kzmon import tasks

        return tasks.retag_if_needed()

    retag_if_needed()


kzmon_retag()
