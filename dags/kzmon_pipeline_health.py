"""Pipeline health every 30 minutes: outlets gone quiet, error-rate jumps, cluster and disk.

Writes a health document per outlet to the ops index and mails ops when an outlet turns bad.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from kzmon.orchestration import START_DATE, active_dag_args, default_args, run_time


@dag(
    dag_id="kzmon_pipeline_health",
    description="Outlet freshness and error rates; volume per language; cluster; disk",
    schedule="*/30 * * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["kzmon", "ops"],
    default_args=default_args(),
    **active_dag_args(),
    params={"as_of": Param(None, type=["null", "string"], description="assess as of (ISO)")},
)
def kzmon_pipeline_health() -> None:
    """Assess every outlet and the cluster; record it; mail ops about new trouble."""

    @task
    def assess() -> dict:
        from kzmon import tasks

        ctx = get_current_context()
        as_of = ctx["params"].get("as_of") or run_time(ctx)
        return tasks.health(as_of)

    assess()


kzmon_pipeline_health()
