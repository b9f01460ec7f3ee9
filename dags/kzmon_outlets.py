"""One DAG per outlet of the registry (spiders/outlets.yaml).

crawl (Scrapy subprocess) -> enrich (extract + tag) -> index (updates the articles Asset)
-> record run metrics. The alerting DAG runs on the Asset. XCom carries paths and counts only.
"""

from __future__ import annotations

from airflow.sdk import DAG, dag, get_current_context, task

from kzmon.orchestration import ARTICLES_ASSET, START_DATE, TIMEOUTS, default_args, run_time
from spiders.registry import load_outlets


def build_outlet_dag(outlet_id: str, name: str, schedule: str) -> DAG:
    """The DAG that crawls, enriches and indexes one outlet."""

    @dag(
        dag_id=f"kzmon_outlet_{outlet_id}",
        description=f"Crawl, extract, tag and index {name}",
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["kzmon", "outlet", outlet_id],
        default_args=default_args(),
    )
    def outlet_dag() -> None:
        """crawl -> enrich -> index (updates the articles Asset) -> record run metrics."""

        @task(execution_timeout=TIMEOUTS["crawl"])
        def crawl() -> dict:
            from kzmon import tasks

            return tasks.crawl(outlet_id, get_current_context()["run_id"])

        @task(execution_timeout=TIMEOUTS["enrich"])
        def enrich(crawl_out: dict) -> dict:
            from kzmon import tasks

            return tasks.enrich(crawl_out)

        @task(execution_timeout=TIMEOUTS["index"], outlets=[ARTICLES_ASSET])
        def index(enrich_out: dict) -> dict:
            from kzmon import tasks

            return tasks.index(enrich_out, get_current_context()["run_id"])

        @task
        def record(crawl_out: dict, enrich_out: dict, index_out: dict) -> dict:
            from kzmon import tasks

            ctx = get_current_context()
            return tasks.record_run(
                ctx["dag"].dag_id,
                ctx["run_id"],
                outlet_id,
                run_time(ctx),
                crawl_out,
                enrich_out,
                index_out,
            )

        crawled = crawl()
        enriched = enrich(crawled)
        record(crawled, enriched, index(enriched))

    return outlet_dag()


for _outlet in load_outlets():
    globals()[f"kzmon_outlet_{_outlet.id}"] = build_outlet_dag(
        _outlet.id, _outlet.name, _outlet.schedule
    )
