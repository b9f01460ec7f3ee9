"""Airflow is real: the DAG folder imports cleanly and the smoke DAG runs with dag.test()."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_dagbag_imports_without_errors(airflow_db) -> None:
    bag = _dagbag()
    assert bag.import_errors == {}
    assert "kzmon_smoke" in bag.dags


def test_smoke_dag_runs_green(airflow_db, es_url: str) -> None:
    dag = _dagbag().dags["kzmon_smoke"]
    run = dag.test()
    assert run.state == "success"
