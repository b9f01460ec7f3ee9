"""Smoke DAG: proves the scheduler stack runs and can reach Elasticsearch."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="kzmon_smoke",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kzmon", "ops"],
    default_args={"owner": "kzmon", "retries": 2},
)
def kzmon_smoke():
    @task
    def cluster_version() -> str:
        from kzmon.es import cluster_info, get_client

        return cluster_info(get_client()).version

    cluster_version()


kzmon_smoke()
