"""Backfill one outlet over a date range: walks its sitemaps and archives back in time.

Triggered by hand with params; the same stages as the outlet DAGs.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from kzmon.orchestration import ARTICLES_ASSET, START_DATE, TIMEOUTS, default_args, run_time
from spiders.registry import load_outlets


@dag(
    dag_id="kzmon_backfill",
    description="Backfill an outlet's archive over a date range",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["kzmon", "backfill"],
    default_args=default_args(),
    params={
        "outlet": Param("jamestown", type="string", enum=[o.id for o in load_outlets()]),
        "since": Param("2011-01-01", type="string", format="date"),
        "until": Param("2016-12-31", type="string", format="date"),
    },
)
def kzmon_backfill() -> None:
    """Crawl the outlet's archive for the date range, then enrich, index and record."""

    @task(execution_timeout=TIMEOUTS["crawl"] * 4)
    def crawl() -> dict:
        from kzmon import tasks

        ctx = get_current_context()
        p = ctx["params"]
        return tasks.crawl(p["outlet"], ctx["run_id"], "backfill", p["since"], p["until"])

    @task(execution_timeout=TIMEOUTS["enrich"] * 4)
    def enrich(crawl_out: dict) -> dict:
        from kzmon import tasks

        return tasks.enrich(crawl_out)

    @task(execution_timeout=TIMEOUTS["index"] * 4, outlets=[ARTICLES_ASSET])
    def index(enrich_out: dict) -> dict:
        from kzmon import tasks

        return tasks.index(enrich_out, get_current_context()["run_id"])

    @task
    def record(crawl_out: dict, enrich_out: dict, index_out: dict) -> dict:
        from kzmon import tasks

        ctx = get_current_context()
        outlet = ctx["params"]["outlet"]
        return tasks.record_run(
            "kzmon_backfill", ctx["run_id"], outlet, run_time(ctx), crawl_out, enrich_out, index_out
        )

    crawled = crawl()
    enriched = enrich(crawled)
    record(crawled, enriched, index(enriched))


kzmon_backfill()
