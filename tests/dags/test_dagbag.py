"""Every DAG imports cleanly and carries what ops rely on: tags, owner, retries, timeouts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_one_dag_per_registry_outlet(dagbag) -> None:
    from spiders.registry import load_outlets

    expected = {f"kzmon_outlet_{o.id}" for o in load_outlets()}
    assert expected <= set(dagbag.dags)
    assert {"kzmon_alerts", "kzmon_backfill", "kzmon_pipeline_health", "kzmon_retag"} <= set(
        dagbag.dags
    )


def test_every_dag_has_tags_owner_retries_and_timeouts(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.catchup is False, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.start_date.tzinfo is not None, dag_id
        for task in dag.tasks:
            assert task.owner == "kzmon", (dag_id, task.task_id)
            assert task.retries >= 2, (dag_id, task.task_id)
            assert task.retry_exponential_backoff, (dag_id, task.task_id)
            assert task.execution_timeout is not None, (dag_id, task.task_id)
            assert task.on_failure_callback, (dag_id, task.task_id)


def test_indexing_updates_the_asset_and_alerts_run_on_it(dagbag) -> None:
    from kzmon.orchestration import ARTICLES_ASSET

    outlet_dag = dagbag.dags["kzmon_outlet_jamestown"]
    assert ARTICLES_ASSET in outlet_dag.get_task("index").outlets
    alerts = dagbag.dags["kzmon_alerts"]
    assert type(alerts.timetable).__name__ == "AssetTriggeredTimetable"
    assert ARTICLES_ASSET.uri in repr(alerts.timetable.asset_condition)


def test_ruff_airflow_rules_clean() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", str(DAGS_FOLDER), "--select", "AIR"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
