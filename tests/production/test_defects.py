"""The defects issue 14 found under the real scheduler, each pinned by a test of its cause.

1. SQLite under a scheduler ("database is locked"): production mode refuses it, clearly.
2. Alerts (and health) created paused: Airflow drops Asset events while their consumer is
   paused, so no alert mail came until someone unpaused it.
3. Manual / REST runs of the health DAG failed: they have no data interval.
4. Run records dropped ``at``: the first health run mailed ops false alarms.
5. The lock had no PostgreSQL drivers; log servers bound every interface; 32 scheduler workers.

The end-to-end proof of each is in ``test_scheduler.py`` (the real stack); these run in
seconds on the session's services.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"
PREFIX = "proddefects"


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture
def own_prefix(es):
    """An index prefix of this test alone (the session's node is shared)."""
    previous = os.environ.get("KZMON_INDEX_PREFIX")
    os.environ["KZMON_INDEX_PREFIX"] = PREFIX
    es.options(ignore_status=404).indices.delete(index=f"{PREFIX}-*", expand_wildcards="all")
    try:
        yield PREFIX
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{PREFIX}-*", expand_wildcards="all")
        if previous is None:
            os.environ.pop("KZMON_INDEX_PREFIX", None)
        else:
            os.environ["KZMON_INDEX_PREFIX"] = previous


@pytest.fixture
def smtp_env(smtp_server):
    """The Airflow SMTP connection (ops mails) on the session's SMTP server."""
    from kzmon.localstack.airflow_components import smtp_connection

    host, port = smtp_server
    previous = os.environ.get("AIRFLOW_CONN_SMTP_DEFAULT")
    os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = smtp_connection(host, port)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = previous


# --- 1. SQLite is refused for the scheduler ------------------------------------------------------


def test_make_up_refuses_sqlite_with_a_clear_message_before_starting_anything() -> None:
    state = Path(tempfile.mkdtemp(prefix="kzmon-sqlite-"))
    env = {
        **os.environ,
        "KZMON_STATE_DIR": str(state),
        "KZMON_AIRFLOW_DB_URL": f"sqlite:///{state / 'airflow.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "kzmon.localstack.stack", "up"],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert result.returncode == 1
    assert "SQLite cannot back the Airflow scheduler" in result.stderr
    assert "database is locked" in result.stderr and "make demo" in result.stderr
    recorded = state / "prod" / "stack.json"
    assert not recorded.exists() or json.loads(recorded.read_text())["components"] == []


def test_the_scheduler_environment_refuses_sqlite() -> None:
    from kzmon.localstack import airflow_components as af

    config = af.AirflowConfig(Path("/tmp/x"), "sqlite:////tmp/x.db", 1, af.new_secrets())
    with pytest.raises(af.SqliteRefusedError, match="make demo"):
        af.production_env(config, {})


# --- 2. the alerts and health DAGs are active from the start ------------------------------------


def test_alerts_and_health_dags_are_never_created_paused(dagbag) -> None:
    """Asset events are dropped while their consumer is paused: alerts must not start so."""
    for dag_id in ("kzmon_alerts", "kzmon_pipeline_health"):
        assert dagbag.dags[dag_id].is_paused_upon_creation is False, dag_id


# --- 3. manual and REST runs of the health DAG ------------------------------------------------


@pytest.mark.integration
def test_manual_health_run_without_a_data_interval_succeeds(
    dagbag, es, own_prefix, smtp_env, mailbox
) -> None:
    """Airflow 3's manual runs have no logical date, so no ``data_interval_end`` key."""
    run = dagbag.dags["kzmon_pipeline_health"].test(logical_date=None)
    assert run.state == "success"
    es.indices.refresh(index=f"{PREFIX}-ops")
    docs = es.search(index=f"{PREFIX}-ops", query={"term": {"kind": "health"}}, size=100)
    stamps = {hit["_source"]["at"] for hit in docs["hits"]["hits"]}
    [stamp] = stamps
    assert abs(datetime.fromisoformat(stamp) - datetime.now(UTC)) < timedelta(minutes=10)


def test_run_time_of_a_run_without_logical_date_is_its_run_after() -> None:
    from types import SimpleNamespace

    from kzmon.orchestration import run_time

    due = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    assert run_time({"dag_run": SimpleNamespace(run_after=due)}) == due.isoformat()
    end = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)
    assert run_time({"data_interval_end": end, "dag_run": SimpleNamespace(run_after=due)}) == (
        end.isoformat()
    )


# --- 4. run records keep their run time; the first health run raises no false alarm -------------


@pytest.mark.integration
def test_run_record_carries_the_run_time_not_the_time_it_was_written(es, own_prefix) -> None:
    from kzmon import tasks

    at = "2026-03-01T10:00:00+00:00"
    tasks.record_run("kzmon_outlet_rferl", "scheduled__x", "rferl", at, {"counts": {"new": 3}})
    doc = es.get(index=f"{PREFIX}-ops", id="run:kzmon_outlet_rferl:scheduled__x")["_source"]
    assert datetime.fromisoformat(doc["at"]) == datetime.fromisoformat(at)


@pytest.mark.integration
def test_first_health_run_after_the_outlets_found_articles_raises_no_alarm(
    es, own_prefix, smtp_env, mailbox
) -> None:
    """The trial: every outlet's hourly run found articles; the health run of the same hour
    mailed "7 outlet(s) need attention" because the runs were stamped with wall-clock time."""
    from kzmon import tasks
    from spiders.registry import load_outlets

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    for outlet in load_outlets():
        run_id = f"scheduled__{hour.isoformat()}"
        counts = {"counts": {"discovered": 5, "fetched": 5, "new": 5, "pages": 5}}
        tasks.record_run(f"kzmon_outlet_{outlet.id}", run_id, outlet.id, hour.isoformat(), counts)
    report = tasks.health((hour + timedelta(minutes=30)).isoformat())
    assert report["notified"] == [], report["problems"]
    assert report["problems"] == []
    assert [m for m in mailbox.messages() if "need attention" in str(m["Subject"])] == []


@pytest.mark.integration
def test_health_before_any_outlet_run_is_pending_and_mails_nobody(
    es, own_prefix, smtp_env, mailbox
) -> None:
    """`make up` starts every DAG at once: the first health run comes before any outlet run."""
    from kzmon import tasks

    report = tasks.health(datetime.now(UTC).isoformat())
    assert report["notified"] == []
    assert mailbox.messages() == []
    es.indices.refresh(index=f"{PREFIX}-ops")
    docs = es.search(index=f"{PREFIX}-ops", query={"term": {"kind": "health"}}, size=100)
    assert {h["_source"]["health"]["status"] for h in docs["hits"]["hits"]} == {"pending"}


# --- 5. drivers, log servers, workers -----------------------------------------------------------


def test_the_lock_carries_the_postgresql_drivers_airflow_needs() -> None:
    lock = (REPO_ROOT / "uv.lock").read_text()
    for module, package in (("psycopg2", "psycopg2-binary"), ("asyncpg", "asyncpg")):
        assert f'name = "{package}"' in lock
        importlib.import_module(module)


def test_components_serve_no_logs_and_the_executor_is_sized_for_the_machine() -> None:
    from kzmon.localstack import airflow_components as af

    config = af.AirflowConfig(Path("/tmp/x"), "postgresql://u:p@127.0.0.1:1/x", 1, af.new_secrets())
    for name in ("scheduler", "triggerer"):
        assert "--skip-serve-logs" in af.component_command(name, config)
    api = af.component_command("api-server", config)
    assert api[api.index("--host") + 1] == "127.0.0.1"
    env = af.production_env(config, {})
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert 1 <= int(env["AIRFLOW__CORE__PARALLELISM"]) <= 2 * (os.cpu_count() or 2)
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"


@pytest.mark.integration
def test_retag_dag_on_a_fresh_cluster_does_nothing_instead_of_failing(es, own_prefix) -> None:
    """Under the scheduler the daily re-tag starts with every other DAG, before any index."""
    from kzmon import tasks

    assert tasks.retag_if_needed() == {"retagged": False}
