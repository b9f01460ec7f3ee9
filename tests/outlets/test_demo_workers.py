"""The demo's outlet workers: how many, their own DB copies, a failing worker stops the demo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kzmon import demo


@pytest.mark.parametrize(
    ("value", "expected"), [("", demo.DEFAULT_WORKERS), ("1", 1), ("5", 5), ("0", 1), ("x", 3)]
)
def test_worker_count_from_the_environment(monkeypatch, value: str, expected: int) -> None:
    monkeypatch.setenv("KZMON_DEMO_WORKERS", value)
    assert demo.demo_workers() == expected


@pytest.mark.integration
def test_a_worker_whose_dag_cannot_run_fails_the_demo_with_its_log(airflow_db: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(airflow_db)}
    with pytest.raises(SystemExit, match=r"worker\.log"):
        demo.run_outlet_dags(env, ["no_such_outlet"], workers=2)
    worker = airflow_db / "workers" / "0"
    assert (worker / "airflow.db").stat().st_size > 0  # its own copy of the migrated DB
    assert "kzmon_outlet_no_such_outlet" in (worker / "worker.log").read_text(encoding="utf-8")
