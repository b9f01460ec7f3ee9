"""Airflow 3's components as local processes: api-server, scheduler, dag-processor, triggerer.

Production mode (`make up`) runs them on PostgreSQL with the LocalExecutor, sized for this
2-core machine, everything on 127.0.0.1:

- the API server (UI, REST API v2 and the task execution API) binds 127.0.0.1 only;
- the scheduler and triggerer start with ``--skip-serve-logs``: their log servers would bind
  every interface; the API server reads task logs from the shared log folder instead;
- ``AIRFLOW__CORE__PARALLELISM`` is set (the default, 32, forks 32 worker processes);
- the simple auth manager lets everyone in as admin: acceptable on loopback only, and said
  so in the README (the docker-compose stack keeps real logins);
- new DAGs are active from the start (``AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False``);
  the alerts and health DAGs are never created paused anyway (see `kzmon.orchestration`).

SQLite is refused here: under a scheduler, concurrent runs fail with ``database is locked``
(HTTP 500s, components exiting). `make demo` keeps SQLite with ``airflow dags test``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kzmon.localstack.airflow_api import AirflowApi
from kzmon.localstack.listeners import (
    PortInUseError,
    ServiceStartError,
    ensure_port_free,
    wait_for_own_listener,
)
from kzmon.localstack.ports import terminate_tree
from kzmon.settings import REPO_ROOT

LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"
#: Task slots on a 2-core machine. Crawls mostly wait on politeness delays, so twice the cores
#: keeps the CPU busy without thrashing; each slot is a supervisor + task process (~250 MiB).
PARALLELISM = int(os.environ.get("KZMON_AIRFLOW_PARALLELISM", "4"))
START_TIMEOUT_S = float(os.environ.get("KZMON_AIRFLOW_START_TIMEOUT", "240"))
STOP_TIMEOUT_S = 30.0
#: The components `make up` starts, in order (the API server first: the others report to it).
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: Health keys of ``/api/v2/monitor/health`` for the components that heartbeat.
_HEALTH_KEYS = {
    "scheduler": "scheduler",
    "dag-processor": "dag_processor",
    "triggerer": "triggerer",
}


class SqliteRefusedError(RuntimeError):
    """The scheduler was asked to run on SQLite."""


def refuse_sqlite(db_url: str) -> None:
    """Fail with a clear message when the metadata DB is SQLite (scheduler mode)."""
    if db_url.strip().lower().startswith("sqlite"):
        raise SqliteRefusedError(
            "SQLite cannot back the Airflow scheduler: with several runs at once the API "
            "server answers HTTP 500 and the scheduler, dag-processor and triggerer exit with "
            "'database is locked'. `make up` runs its own PostgreSQL (or point "
            "KZMON_AIRFLOW_DB_URL at one); `make demo` is the quick path on SQLite "
            "(airflow dags test, no scheduler)."
        )


def new_secrets() -> dict[str, str]:
    """Secrets every component must share (JWT for the task execution API, sessions, Fernet)."""
    from cryptography.fernet import Fernet

    return {
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret_key": secrets.token_urlsafe(32),
        "fernet_key": Fernet.generate_key().decode(),
    }


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """The stack's secrets file (mode 0600), created on first use and kept afterwards."""
    if path.exists():
        return json.loads(path.read_text())
    values = new_secrets()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return values


def smtp_connection(host: str, port: int) -> str:
    """The ``smtp_default`` connection (failure and health mails) as Airflow's JSON form."""
    return json.dumps(
        {
            "conn_type": "smtp",
            "host": host,
            "port": port,
            "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10, "retry_limit": 2},
        }
    )


def base_env(
    home: Path, db_url: str | None, *, smtp_host: str, smtp_port: int, es_url: str
) -> dict[str, str]:
    """What every local Airflow shares, the quick path (SQLite) and production mode alike."""
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(smtp_host, smtp_port),
        "ES_URL": es_url,
        "SMTP_HOST": smtp_host,
        "SMTP_PORT": str(smtp_port),
    }
    if db_url:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = db_url
    return env


@dataclass(frozen=True)
class AirflowConfig:
    """Production-mode Airflow: where it lives, its DB, its API port and shared secrets."""

    home: Path
    db_url: str
    api_port: int
    secrets: Mapping[str, str]
    parallelism: int = PARALLELISM

    @property
    def api_url(self) -> str:
        """The UI and REST API."""
        return f"http://{HOST}:{self.api_port}"


def production_env(config: AirflowConfig, kzmon_env: Mapping[str, str]) -> dict[str, str]:
    """The environment of every component (and so of every task they run)."""
    refuse_sqlite(config.db_url)
    env = {
        **os.environ,
        **kzmon_env,
        "AIRFLOW_HOME": str(config.home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": config.db_url,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(config.parallelism),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(config.parallelism),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        # New DAG files show up within a minute (default 5) without reparsing all the time.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "60",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{config.api_url}/execution/",
        "AIRFLOW__CORE__FERNET_KEY": config.secrets["fernet_key"],
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(config.api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": config.api_url,
        "AIRFLOW__API__SECRET_KEY": config.secrets["api_secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": config.secrets["jwt_secret"],
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(config.home / "logs"),
        "AIRFLOW_BASE_URL": config.api_url,
    }
    return env


def airflow_bin() -> str:
    """The ``airflow`` command of this virtualenv."""
    return str(Path(sys.executable).with_name("airflow"))


def component_command(name: str, config: AirflowConfig) -> list[str]:
    """The command line of one component (log servers off, API on loopback)."""
    airflow = airflow_bin()
    if name == "api-server":
        return [airflow, "api-server", "--host", HOST, "--port", str(config.api_port)]
    if name in {"scheduler", "triggerer"}:
        return [airflow, name, "--skip-serve-logs"]
    if name == "dag-processor":
        return [airflow, "dag-processor"]
    raise ValueError(f"unknown Airflow component {name!r}")


def migrate(env: Mapping[str, str], log_dir: Path) -> None:
    """``airflow db migrate`` (idempotent)."""
    log = log_dir / "db-migrate.log"
    with open(log, "ab") as fh:
        result = subprocess.run(
            [airflow_bin(), "db", "migrate"],
            env=dict(env),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    if result.returncode != 0:
        raise ServiceStartError(f"`airflow db migrate` failed; see {log}")


def spawn(name: str, cmd: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen:
    """Start one long-running process in its own session, output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            cmd,
            env=dict(env),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    LOGGER.info("started %s (pid %s), log %s", name, proc.pid, log)
    return proc


def start_api_server(config: AirflowConfig, env: Mapping[str, str], log: Path) -> int:
    """Start the API server; return its PID once *it* listens and answers health."""
    ensure_port_free(config.api_port, "Airflow API server", HOST)
    proc = spawn("api-server", component_command("api-server", config), env, log)
    api = AirflowApi(config.api_url, timeout=5)
    try:
        wait_for_own_listener(
            proc.pid,
            config.api_port,
            "Airflow API server",
            timeout=START_TIMEOUT_S,
            log=log,
            ready=lambda: api.health() is not None,
        )
    except (PortInUseError, ServiceStartError):
        terminate_tree(proc.pid, STOP_TIMEOUT_S)
        raise
    return proc.pid


def start_heartbeating(name: str, config: AirflowConfig, env: Mapping[str, str], log: Path) -> int:
    """Start the scheduler, dag-processor or triggerer; return its PID (health checked later)."""
    proc = spawn(name, component_command(name, config), env, log)
    return proc.pid


def wait_until_healthy(
    api: AirflowApi, pids: Mapping[str, int], logs: Mapping[str, Path], timeout: float
) -> None:
    """Wait until every heartbeating component reports healthy; fail if one exits."""
    import psutil

    deadline = time.monotonic() + timeout
    status: dict[str, str | None] = {}
    while time.monotonic() < deadline:
        for name, pid in pids.items():
            if not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie":
                raise ServiceStartError(f"Airflow {name} (pid {pid}) exited; see {logs[name]}")
        health = api.health() or {}
        status = {name: (health.get(_HEALTH_KEYS[name]) or {}).get("status") for name in pids}
        if all(value == "healthy" for value in status.values()):
            return
        time.sleep(1)
    raise ServiceStartError(f"Airflow components not healthy after {timeout:g} s: {status}")


def dag_files(dags_folder: Path = REPO_ROOT / "dags") -> set[str]:
    """The DAG files the dag-processor must have parsed (as its safe mode picks them)."""
    files = set()
    for path in dags_folder.glob("*.py"):
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        if not path.name.startswith("_") and "airflow" in text and "dag" in text:
            files.add(str(path.resolve()))
    return files


def wait_for_dags(api: AirflowApi, timeout: float, dags_folder: Path = REPO_ROOT / "dags") -> list:
    """Wait until every DAG file is parsed; fail on import errors. Return the kzmon DAGs."""
    expected = dag_files(dags_folder)
    deadline = time.monotonic() + timeout
    missing = expected
    while time.monotonic() < deadline:
        errors = api.import_errors()
        if errors:
            first = errors[0]
            raise ServiceStartError(
                f"DAG import errors in {[e['filename'] for e in errors]}: "
                f"{first.get('stack_trace', '')[-800:]}"
            )
        dags = api.dags()
        parsed = {str(Path(d["fileloc"]).resolve()) for d in dags if d.get("fileloc")}
        missing = expected - parsed
        if not missing:
            return dags
        time.sleep(2)
    raise ServiceStartError(f"DAG files not parsed after {timeout:g} s: {sorted(missing)}")
