"""`make demo`: the quick path — run the pipeline once end to end through the Airflow DAGs.

No scheduler: every DAG runs with ``airflow dags test`` on a SQLite metadata DB, one after the
other, in a few minutes. Production mode — the real scheduler on PostgreSQL, the UI — is
`make up` (README "Run it like production").

The Makefile has already started the local Elasticsearch node and SMTP server. This module
starts the offline replay of the outlets, prepares AIRFLOW_HOME under the state folder
(SQLite), runs every outlet DAG, then the alerting DAG with ``airflow dags test`` (in
production the scheduler runs it when the indexing tasks update the articles Asset) and the
health DAG, prints what was indexed, a sample search and the alert emails, and ends with one
line of JSON.

The outlet DAGs run in ``KZMON_DEMO_WORKERS`` worker processes at once (default 3), each a
loop of ``dag.test()`` -- what ``airflow dags test`` runs -- over its share of the outlets,
with the DAG files parsed once per worker. SQLite takes one writer at a time, so each worker
has its own copy of the migrated metadata DB (``workers/<n>/airflow.db`` beside the main
one). A crawl mostly waits on the outlet's politeness delay, so three workers overlap well
even on two cores; ``KZMON_DEMO_WORKERS=1`` runs them one after the other.

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
import time
from pathlib import Path
from typing import Any

from kzmon.settings import REPO_ROOT, Settings, get_settings

LOGGER = logging.getLogger(__name__)

SAMPLE_QUERY = ["Jund al-Khilafah", "--relevant", "--size", "5"]
#: Worker processes running outlet DAGs at once (see the module docstring).
DEFAULT_WORKERS = 3
_RESULTS = "results.jsonl"


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


def demo_workers() -> int:
    """``KZMON_DEMO_WORKERS`` (at least 1), else DEFAULT_WORKERS."""
    value = os.environ.get("KZMON_DEMO_WORKERS", "").strip()
    return max(1, int(value)) if value.isdigit() else DEFAULT_WORKERS


def _worker_env(env: dict[str, str], home: Path) -> dict[str, str]:
    """The Airflow environment of one worker: its own home and copy of the metadata DB."""
    return {
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }


def run_outlet_dags(env: dict[str, str], outlet_ids: list[str], workers: int) -> list[dict]:
    """Run the outlet DAGs in ``workers`` processes; return one result per outlet.

    The main home's DB must be migrated; each worker gets a copy of it. Raises SystemExit
    when a worker fails or a DAG run does not succeed (its log is named).
    """
    main_home = Path(env["AIRFLOW_HOME"])
    groups = [outlet_ids[n::workers] for n in range(workers)]
    running = []
    for n, group in enumerate(g for g in groups if g):
        home = main_home / "workers" / str(n)
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        shutil.copy2(main_home / "airflow.db", home / "airflow.db")
        log = (home / "worker.log").open("wb")
        command = [sys.executable, "-m", "kzmon.demo", "--outlet-dags", *group]
        proc = subprocess.Popen(
            command, env=_worker_env(env, home), stdout=log, stderr=subprocess.STDOUT
        )
        LOGGER.info("worker %d (pid %d): %s", n, proc.pid, ", ".join(group))
        running.append((proc, home, log))
    results = []
    for proc, home, log in running:
        code = proc.wait()
        log.close()
        path = home / _RESULTS
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        results += [json.loads(line) for line in lines if line]
        if code != 0:
            raise SystemExit(f"outlet DAGs failed in {home}; see {home / 'worker.log'}")
    return results


def _outlet_dags_worker(outlet_ids: list[str]) -> int:
    """In a worker process: parse the DAG files once, ``dag.test()`` each outlet's DAG."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    if bag.import_errors:
        LOGGER.error("DAG import errors: %s", bag.import_errors)
        return 1
    results = Path(os.environ["AIRFLOW_HOME"]) / _RESULTS
    failed = 0
    for outlet_id in outlet_ids:
        started = time.monotonic()
        run = bag.dags[f"kzmon_outlet_{outlet_id}"].test()
        state = str(getattr(run.state, "value", run.state))
        seconds = round(time.monotonic() - started, 1)
        failed += state != "success"
        with results.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"outlet": outlet_id, "state": state, "seconds": seconds}))
            handle.write("\n")
    return 1 if failed else 0


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
    started = time.monotonic()
    try:
        _airflow(env, "db", "migrate")
        workers = demo_workers()
        LOGGER.info("running the outlet DAGs in %d worker(s)", workers)
        runs = run_outlet_dags(env, [o.id for o in load_outlets()], workers)
        for run in runs:
            LOGGER.info(
                "kzmon_outlet_%s: %s in %.1f s", run["outlet"], run["state"], run["seconds"]
            )
        outlet_seconds = round(time.monotonic() - started, 1)
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
        "outlets_indexed": len(outlets),
        "outlet_dags_seconds": outlet_seconds,
        "total_seconds": round(time.monotonic() - started, 1),
        "es_url": settings.es_url,
        "mailbox": str(mailbox),
        "mode": "quick path: airflow dags test on SQLite (production mode: make up)",
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--outlet-dags"]:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        sys.exit(_outlet_dags_worker(sys.argv[2:]))
    sys.exit(main())
