"""Whole DAG runs with dag.test(): the replay, the real Elasticsearch and the real SMTP server.

The module uses its own index prefix and data folder, so it shares the session's services
without seeing other tests' documents.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
PREFIX = "e2e"
OUTLET = "rferl"  # fresh outlet: several en articles, hourly schedule
QUIET_OUTLET = "katehon"


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture(scope="module")
def work_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="kzmon-e2e-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def pipeline_env(es_url, smtp_server, airflow_db, work_dir):
    """Env for the DAG runs: own prefix and data dir, SMTP connection, the replay."""
    from spiders.replay.server import start_replay, stop_replay

    host, port = smtp_server
    replay = start_replay(work_dir / "replay")
    overrides = {
        "KZMON_INDEX_PREFIX": PREFIX,
        "KZMON_DATA_DIR": str(work_dir / "data"),
        "KZMON_REPLAY_URL": replay.url,
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
            {
                "conn_type": "smtp",
                "host": host,
                "port": port,
                "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10},
            }
        ),
    }
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        yield replay
    finally:
        stop_replay(work_dir / "replay")
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _count(es, outlet: str) -> int:
    es.indices.refresh(index=f"{PREFIX}-articles")
    query = {"term": {"outlet": outlet}}
    return es.count(index=f"{PREFIX}-articles", query=query)["count"]


def _run_docs(es, outlet: str) -> list[dict]:
    es.indices.refresh(index=f"{PREFIX}-ops")
    resp = es.search(
        index=f"{PREFIX}-ops",
        query={"bool": {"filter": [{"term": {"kind": "run"}}, {"term": {"outlet": outlet}}]}},
        sort=[{"at": "desc"}],
        size=50,
    )
    return [h["_source"] for h in resp["hits"]["hits"]]


def test_outlet_dag_indexes_the_replay_articles(dagbag, pipeline_env, es) -> None:
    from spiders.replay.site import load_site

    run = dagbag.dags[f"kzmon_outlet_{OUTLET}"].test()
    assert run.state == "success"
    expected = set(load_site().article_urls(OUTLET))
    resp = es.search(
        index=f"{PREFIX}-articles",
        query={"term": {"outlet": OUTLET}},
        size=200,
        source=["canonical_url", "title", "text", "entities", "relevant"],
    )
    urls = [h["_source"]["canonical_url"] for h in resp["hits"]["hits"]]
    assert len(urls) == len(set(urls)), "an article was indexed twice"
    assert set(urls) <= expected
    assert len(urls) >= 3
    assert all(h["_source"]["title"] and h["_source"]["text"] for h in resp["hits"]["hits"])
    [doc] = _run_docs(es, OUTLET)
    assert doc["counts"]["indexed"] == len(urls)
    assert doc["counts"]["new"] >= len(urls)


def test_second_run_adds_nothing(dagbag, pipeline_env, es) -> None:
    before = _count(es, OUTLET)
    run = dagbag.dags[f"kzmon_outlet_{OUTLET}"].test()
    assert run.state == "success"
    assert _count(es, OUTLET) == before
    latest = _run_docs(es, OUTLET)[0]
    assert latest["counts"]["new"] == 0
    assert latest["counts"]["indexed"] == 0


def test_alerts_dag_mails_new_matches_once(dagbag, pipeline_env, es, mailbox) -> None:
    run = dagbag.dags["kzmon_alerts"].test()
    assert run.state == "success"
    first = mailbox.messages()
    assert first, "the replay's relevant articles should match a starter watchlist"
    assert all("new stor" in str(m["Subject"]) for m in first)
    # The stories task ran first: every indexed article has its story.
    es.indices.refresh(index=f"{PREFIX}-articles")
    hits = es.search(index=f"{PREFIX}-articles", size=200, source=["story_id"])["hits"]["hits"]
    assert hits and all(h["_source"].get("story_id") for h in hits)
    ids = {h["_id"]: h["_source"]["story_id"] for h in hits}
    mailbox.clear()
    assert dagbag.dags["kzmon_alerts"].test().state == "success"
    assert mailbox.messages() == []
    # The rerun changed no story id.
    es.indices.refresh(index=f"{PREFIX}-articles")
    hits = es.search(index=f"{PREFIX}-articles", size=200, source=["story_id"])["hits"]["hits"]
    assert {h["_id"]: h["_source"]["story_id"] for h in hits} == ids


def test_health_flags_an_outlet_whose_replay_stops_publishing(
    dagbag, pipeline_env, es, mailbox, work_dir
) -> None:
    from spiders.replay.server import start_replay, stop_replay

    now = datetime.now(UTC).replace(microsecond=0)
    quiet_dag = dagbag.dags[f"kzmon_outlet_{QUIET_OUTLET}"]
    # Ten days ago the outlet published as usual ...
    assert quiet_dag.test(logical_date=now - timedelta(days=10)).state == "success"
    # ... then its site stopped listing anything new.
    quiet = start_replay(work_dir / "replay-quiet", quiet_outlets=[QUIET_OUTLET])
    os.environ["KZMON_REPLAY_URL"] = quiet.url
    try:
        assert quiet_dag.test(logical_date=now - timedelta(hours=1)).state == "success"
    finally:
        stop_replay(work_dir / "replay-quiet")
        os.environ["KZMON_REPLAY_URL"] = pipeline_env.url
    mailbox.clear()
    run = dagbag.dags["kzmon_pipeline_health"].test(run_conf={"as_of": now.isoformat()})
    assert run.state == "success"
    health = {
        h["_source"]["outlet"]: h["_source"]
        for h in es.search(index=f"{PREFIX}-ops", query={"term": {"kind": "health"}}, size=100)[
            "hits"
        ]["hits"]
    }
    assert health[QUIET_OUTLET]["health"]["status"] == "quiet"
    assert health[OUTLET]["health"]["status"] == "ok"
    [mail] = [m for m in mailbox.messages() if "ops@" in str(m["To"])]
    assert QUIET_OUTLET in mail.get_body(preferencelist=("html",)).get_content()


def test_retag_dag_moves_the_archive_to_a_new_version_when_the_taxonomy_changes(
    dagbag, pipeline_env, es
) -> None:
    dag = dagbag.dags["kzmon_retag"]
    read_alias = f"{PREFIX}-articles"
    before = set(es.indices.get_alias(name=read_alias))
    assert dag.test().state == "success"  # current taxonomy everywhere: nothing to do
    assert set(es.indices.get_alias(name=read_alias)) == before
    total = es.count(index=read_alias)["count"]
    some = es.search(index=read_alias, size=1)["hits"]["hits"][0]
    es.update(index=some["_index"], id=some["_id"], doc={"taxonomy_version": "0.old"})
    es.indices.refresh(index=read_alias)
    assert dag.test().state == "success"
    after = set(es.indices.get_alias(name=read_alias))
    assert after != before
    assert es.count(index=read_alias)["count"] == total
    old = es.count(index=read_alias, query={"term": {"taxonomy_version": "0.old"}})["count"]
    assert old == 0


def test_failed_task_mails_ops_with_error_and_log_link(
    dagbag, pipeline_env, mailbox, monkeypatch
) -> None:
    from kzmon.localstack.ports import free_port

    dag = dagbag.dags["kzmon_smoke"]
    for task in dag.tasks:
        task.retries = 0
    monkeypatch.setenv("ES_URL", f"http://127.0.0.1:{free_port()}")
    run = dag.test()
    assert run.state == "failed"
    [mail] = mailbox.messages()
    assert "kzmon_smoke.cluster_version failed" in str(mail["Subject"])
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "ConnectionError" in html or "Connection refused" in html
    assert "log" in html.lower() and "http" in html
