"""Stories, then alert emails: runs whenever an indexing task updates the articles Asset.

Story assignment runs first, so the alerts group the same articles by story; immediate
watchlists are evaluated on every run; digests go out when their hour has come.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from kzmon.orchestration import (
    ARTICLES_ASSET,
    START_DATE,
    TIMEOUTS,
    active_dag_args,
    default_args,
    run_time,
)


@dag(
    dag_id="kzmon_alerts",
    description="Mail analysts the new matches of their watchlists",
    schedule=[ARTICLES_ASSET],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["kzmon", "alerts"],
    default_args=default_args(),
    **active_dag_args(),
)
def kzmon_alerts() -> None:
    """Stories, immediate watchlists, then due digests, then the counts to the ops index."""

    @task(execution_timeout=TIMEOUTS["index"])
    def stories() -> dict:
        from kzmon import tasks

        return tasks.assign_stories()

    @task
    def immediate() -> dict:
        from kzmon import tasks

        return tasks.alerts("immediate")

    @task
    def digest() -> dict:
        from kzmon import tasks

        return tasks.alerts("digest")

    @task
    def record(stories_out: dict, immediate_out: dict, digest_out: dict) -> dict:
        from kzmon import tasks

        ctx = get_current_context()
        alerted = {"alerted": immediate_out["alerted"] + digest_out["alerted"]}
        return tasks.record_run(
            "kzmon_alerts", ctx["run_id"], None, run_time(ctx), stories_out, alerted
        )

    grouped = stories()
    first = immediate()
    second = digest()
    grouped >> first >> second
    record(grouped, first, second)


kzmon_alerts()
