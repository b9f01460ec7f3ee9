"""`make demo`: the quick path — run the pipeline once end to end through the Airflow DAGs.

No scheduler: every DAG runs with ``airflow dags test`` on a SQLite metadata DB, one after the
other, in a few minutes. Production mode — the real scheduler on PostgreSQL, the UI — is
`make up` (README "Run it like production").

The Makefile has already started the local Elasticsearch node and SMTP server. This module
starts the offline replay of the outlets, prepares AIRFLOW_HOME under the state folder
(SQLite), runs every outlet DAG with ``airflow dags test``, then the alerting DAG (in
production the scheduler runs it when the indexing tasks update the articles Asset) and the
health DAG, prints what was indexed, a sample search and the alert emails, and ends with one
line of JSON.

Each demo starts from a clean slate: its crawl data lives in ``.state/demo/`` and, on the
local node that `make es-up` manages (never on another cluster), the kzmon indices are
deleted first.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from kzmon.settings import Settings, get_settings

LOGGER = logging.getLogger(__name__)

SAMPLE_QUERY = ["Jund al-Khilafah", "--relevant", "--size", "5"]


def airflow_env(settings: Settings, extra: dict[str, str]) -> dict[str, str]:
    """Environment for the quick path: AIRFLOW_HOME under .state, SQLite, our dags/.

    SQLite is fine here: ``airflow dags test`` runs one DAG at a time, in this process's child,
    without a scheduler. Production mode (`make up`) refuses it.
    """
    from kzmon.localstack.airflow_components import base_env

    home = settings.state_dir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{home / 'airflow.db'}"
    env = base_env(
        home,
        db_url,
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        es_url=settings.es_url,
    )
    return {**os.environ, **extra, **env}


def _airflow(env: dict[str, str], *args: str) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    log = Path(env["AIRFLOW_HOME"]) / "demo.log"
    with open(log, "ab") as fh:
        result = subprocess.run([airflow, *args], env=env, stdout=fh, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit(f"`airflow {' '.join(args)}` failed; see {log}")


def _is_local_node(settings: Settings) -> bool:
    from kzmon.settings import _local_es_url

    return bool(settings.es_url) and settings.es_url == _local_es_url(settings.state_dir)


def _clean_slate(settings: Settings, demo_dir: Path, mailbox: Path) -> None:
    from kzmon.es import get_client

    shutil.rmtree(demo_dir, ignore_errors=True)
    demo_dir.mkdir(parents=True)
    for eml in mailbox.glob("*.eml"):
        eml.unlink()
    if not _is_local_node(settings):
        LOGGER.warning("ES_URL is not the local demo node: keeping its indices")
        return
    es = get_client()
    pattern = f"{settings.es_index_prefix}-*"
    es.options(ignore_status=404).indices.delete(index=pattern, expand_wildcards="all")
    LOGGER.info("deleted %s on the local node", pattern)


def _indexed_summary(settings: Settings) -> tuple[int, int, dict[str, int], list[dict]]:
    from kzmon.es import get_client

    es = get_client()
    alias = f"{settings.es_index_prefix}-articles"
    es.indices.refresh(index=alias)
    resp = es.search(
        index=alias,
        size=100,
        query={"match_all": {}},
        sort=[{"published_at": {"order": "desc", "missing": "_last"}}],
        source=["outlet", "title", "language", "relevant", "places", "groups", "incident_types"],
        aggs={
            "outlets": {"terms": {"field": "outlet", "size": 50}},
            "relevant": {"filter": {"term": {"relevant": True}}},
        },
        track_total_hits=True,
    )
    outlets = {b["key"]: b["doc_count"] for b in resp["aggregations"]["outlets"]["buckets"]}
    total = resp["hits"]["total"]["value"]
    relevant = resp["aggregations"]["relevant"]["doc_count"]
    return total, relevant, outlets, [h["_source"] for h in resp["hits"]["hits"]]


def _stories_summary(settings: Settings) -> tuple[int, int]:
    """Stories (not merged away) and incident records in the stories index."""
    from kzmon.es import get_client

    es = get_client()
    alias = f"{settings.es_index_prefix}-stories"
    if not es.indices.exists(index=alias):
        return 0, 0
    es.indices.refresh(index=alias)
    stories = es.count(index=alias, query={"term": {"status": "active"}})["count"]
    incidents = es.count(index=f"{settings.es_index_prefix}-incidents")["count"]
    print(f"\n== Stories: {stories}, incident records: {incidents}")
    return int(stories), int(incidents)


def _print_articles(articles: list[dict[str, Any]]) -> None:
    print("\n== Indexed articles (newest first)")
    for art in articles:
        flag = "R" if art.get("relevant") else " "
        tags = ", ".join((art.get("places") or [])[:3] + (art.get("groups") or [])[:2])
        incidents = ",".join(art.get("incident_types") or [])
        title = (art.get("title") or "")[:70]
        print(f" {flag} [{art['outlet']:<12}] {art.get('language', '?')} {title}")
        if tags or incidents:
            print(f"      {tags} | {incidents}")


def _print_search(env: dict[str, str]) -> None:
    print(f"\n== Sample search: {' '.join(SAMPLE_QUERY)}")
    cmd = [sys.executable, "-m", "kzmon.indexer", "search", *SAMPLE_QUERY]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    print(result.stdout.rstrip() or result.stderr.rstrip())


def _print_mail(mailbox: Path, ops_email: str) -> int:
    from kzmon.localstack.smtp_server import read_mailbox

    alerts = 0
    print(f"\n== Emails received ({mailbox})")
    for msg in read_mailbox(mailbox):
        to = str(msg["To"])
        kind = "ops" if ops_email in to else "alert"
        alerts += kind == "alert"
        print(f" [{kind}] to {to}: {msg['Subject']}")
        if kind == "alert":
            body = msg.get_body(preferencelist=("plain",))
            text = body.get_content() if body else ""
            print("    " + "\n    ".join(text.strip().splitlines()[:16]))
    return alerts


def main() -> int:
    """Run the demo; print a human summary, then the JSON summary line."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from spiders.registry import load_outlets
    from spiders.replay.server import start_replay, stop_replay

    settings = get_settings()
    print(
        "make demo: the quick path (airflow dags test on SQLite, no scheduler); "
        "`make up` runs the real scheduler on PostgreSQL",
        flush=True,
    )
    demo_dir = settings.state_dir / "demo"
    mailbox = settings.state_dir / "smtp" / "mailbox"
    mailbox.mkdir(parents=True, exist_ok=True)
    _clean_slate(settings, demo_dir, mailbox)
    replay = start_replay(demo_dir / "replay")
    env = airflow_env(
        settings,
        {"KZMON_REPLAY_URL": replay.url, "KZMON_DATA_DIR": str(demo_dir / "data")},
    )
    try:
        _airflow(env, "db", "migrate")
        for outlet in load_outlets():
            LOGGER.info("running DAG kzmon_outlet_%s", outlet.id)
            _airflow(env, "dags", "test", f"kzmon_outlet_{outlet.id}")
        LOGGER.info("running DAG kzmon_alerts (the articles Asset was updated)")
        _airflow(env, "dags", "test", "kzmon_alerts")
        LOGGER.info("running DAG kzmon_pipeline_health")
        _airflow(env, "dags", "test", "kzmon_pipeline_health")
    finally:
        stop_replay(demo_dir / "replay")
    total, relevant, outlets, articles = _indexed_summary(settings)
    stories, incidents = _stories_summary(settings)
    _print_articles(articles)
    _print_search(env)
    alerts_sent = _print_mail(mailbox, settings.ops_email)
    summary = {
        "articles_indexed": total,
        "relevant": relevant,
        "alerts_sent": alerts_sent,
        "stories": stories,
        "incidents": incidents,
        "outlets": outlets,
        "es_url": settings.es_url,
        "mailbox": str(mailbox),
        "mode": "quick path: airflow dags test on SQLite (production mode: make up)",
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
