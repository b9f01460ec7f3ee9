"""Smoke DAG: proves the scheduler stack runs and can reach Elasticsearch."""

from __future__ import annotations

from airflow.sdk import dag, task

from kzmon.orchestration import START_DATE, default_args


@dag(
    dag_id="kzmon_smoke",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["kzmon", "ops"],
    default_args=default_args(),
)
def kzmon_smoke() -> None:
    """Ask the cluster for its version."""

    @task
    def cluster_version() -> str:
        from kzmon.es import cluster_info, get_client

        return cluster_info(get_client()).version

    cluster_version()


kzmon_smoke()
