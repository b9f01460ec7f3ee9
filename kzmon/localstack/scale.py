"""Scale-out mode's own parts (`make up-scale`): Redis and the Airflow Celery workers.

`kzmon.localstack.stack` starts the scale profile (`StackOptions.scale`) as production mode
does, with three differences that `docker-compose.scale.yml` describes: every Airflow component
runs the CeleryExecutor (broker Redis, results in the PostgreSQL DB), ``airflow celery worker``
processes run the tasks, and Elasticsearch is a three-node cluster
(`kzmon.localstack.es_node.start_cluster`). This module holds the first two:

- Redis is Debian's ``redis-server`` (``make system-packages``), bound to 127.0.0.1 on a free
  port it keeps across restarts, with a generated password in its config file (mode 0600, never
  on a command line), run as ``nobody`` when we are root, stopped by PID.
- Each worker is ``airflow celery worker`` with ``--skip-serve-logs`` (its log server would
  bind every interface; the API server reads the task logs from the shared log folder), an
  explicit ``--concurrency`` and its own Celery node name. Tasks record the worker's name as
  their hostname (`worker_hostname`), so the task instances say which worker ran them.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from kzmon.localstack import airflow_components as af
from kzmon.localstack.listeners import (
    PortInUseError,
    ServiceStartError,
    ensure_port_free,
    owns_listener,
    wait_for_own_listener,
)
from kzmon.localstack.ports import free_port, pid_alive, terminate, terminate_tree
from kzmon.localstack.privileges import as_unprivileged, check_reachable, hand_over

LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"
#: Celery workers of `make up-scale` (docker-compose.scale.yml runs 3 on bigger machines).
WORKERS = int(os.environ.get("KZMON_CELERY_WORKERS", "2"))
#: Task processes per worker: two workers x 2 = the 4 slots production mode has on 2 cores.
WORKER_CONCURRENCY = int(os.environ.get("KZMON_CELERY_WORKER_CONCURRENCY", "2"))
START_TIMEOUT_S = float(os.environ.get("KZMON_CELERY_START_TIMEOUT", "180"))
#: A killed worker's unacknowledged task goes back to the queue after this long. Airflow's
#: default (6 h) is for long tasks; the scheduler's heartbeat check already retries a task
#: whose worker died, so this only bounds how long a lost message waits.
VISIBILITY_TIMEOUT_S = int(os.environ.get("KZMON_CELERY_VISIBILITY_TIMEOUT", "3600"))
#: The environment variable that names a worker inside its tasks (see `worker_hostname`).
WORKER_NAME_VAR = "KZMON_WORKER_NAME"


def redis_bin() -> str:
    """Debian's ``redis-server`` (``KZMON_REDIS_SERVER`` overrides)."""
    found = os.environ.get("KZMON_REDIS_SERVER") or shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "redis-server is not installed: run `make system-packages` (apt-get install "
            "redis-server) or set KZMON_REDIS_SERVER"
        )
    return found


@dataclass(frozen=True)
class RedisInfo:
    """A running Redis: its PID, port and the broker URL (with the password)."""

    pid: int
    port: int
    password: str
    log: str

    @property
    def url(self) -> str:
        """The Celery broker URL (database 0)."""
        return f"redis://:{self.password}@{HOST}:{self.port}/0"

    @property
    def public_url(self) -> str:
        """The URL without the password (for summaries and logs)."""
        return f"redis://{HOST}:{self.port}/0"


def _redis_secret(run_dir: Path) -> str:
    path = run_dir / "secret"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()


def _redis_port(run_dir: Path, port: int | None) -> int:
    path = run_dir / "port"
    if port is None:
        try:
            port = int(path.read_text())
        except (OSError, ValueError):
            port = free_port()
    path.write_text(str(port))
    return port


def _write_redis_conf(run_dir: Path, port: int, password: str) -> Path:
    data = run_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    conf = run_dir / "redis.conf"
    conf.touch(mode=0o600)
    conf.write_text(
        "\n".join(
            [
                f"bind {HOST}",
                f"port {port}",
                "protected-mode yes",
                "daemonize no",
                'logfile ""',
                f"dir {data}",
                # The broker's queue survives a Redis restart (as the compose volume does).
                "appendonly yes",
                'save ""',
                f"requirepass {password}",
                "",
            ]
        )
    )
    return conf


def _redis_ping(port: int, password: str) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            reply = b""
            deadline = time.monotonic() + 2
            while b"PONG" not in reply and time.monotonic() < deadline:
                chunk = sock.recv(256)
                if not chunk:
                    break
                reply += chunk
            return b"+PONG" in reply
    except OSError:
        return False


def read_redis(run_dir: Path) -> RedisInfo | None:
    """The recorded Redis of ``run_dir`` if its process still holds its port."""
    try:
        info = RedisInfo(**json.loads((run_dir / "redis.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return info if pid_alive(info.pid) and owns_listener(info.pid, info.port) else None


def start_redis(run_dir: Path, port: int | None = None) -> RedisInfo:
    """Start Redis with its data in ``run_dir`` (idempotent); return once *its* process
    answers PING."""
    run_dir = Path(run_dir).resolve()
    running = read_redis(run_dir)
    if running and port in (None, running.port):
        return running
    run_dir.mkdir(parents=True, exist_ok=True)
    check_reachable(run_dir, "Redis")
    password = _redis_secret(run_dir)
    port = _redis_port(run_dir, port)
    ensure_port_free(port, "Redis", HOST)
    conf = _write_redis_conf(run_dir, port, password)
    hand_over(run_dir)
    log = run_dir / "redis.log"
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            as_unprivileged([redis_bin(), str(conf)]),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_for_own_listener(
            proc.pid,
            port,
            "Redis",
            timeout=30,
            log=log,
            ready=lambda: _redis_ping(port, password),
        )
    except (PortInUseError, ServiceStartError):
        terminate(proc.pid, 10)
        proc.wait()
        raise
    LOGGER.info("Redis up on %s:%s (pid %s)", HOST, port, proc.pid)
    info = RedisInfo(proc.pid, port, password, str(log))
    state = run_dir / "redis.json"
    state.touch(mode=0o600)
    state.write_text(json.dumps(asdict(info)))
    return info


def result_backend(db_url: str) -> str:
    """Celery's result backend on the Airflow DB: ``db+`` and the same SQLAlchemy URL, driver
    included (SQLAlchemy 2.1 would pick psycopg 3 for a bare ``postgresql://``; the lock has
    psycopg2)."""
    scheme = db_url.split("://", 1)[0]
    if not scheme.startswith("postgresql"):
        raise ValueError(f"the Celery result backend needs PostgreSQL, not {scheme!r}")
    return f"db+{db_url}"


def celery_env(broker_url: str, db_url: str, concurrency: int) -> dict[str, str]:
    """What switches every Airflow component to the CeleryExecutor (as docker-compose.scale.yml
    does with ``x-celery-env``)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend(db_url),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        # One task message at a time per free slot: a busy worker does not hoard the queue.
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S),
    }


def worker_hostname() -> str:
    """The task instance's ``hostname`` on a worker: ``<worker name>@<fqdn>``.

    Set as ``AIRFLOW__CORE__HOSTNAME_CALLABLE`` for the workers: several workers on one
    machine would otherwise all record the same host name.
    """
    name = os.environ.get(WORKER_NAME_VAR)
    fqdn = socket.getfqdn()
    return f"{name}@{fqdn}" if name else fqdn


def worker_command(name: str, concurrency: int) -> list[str]:
    """``airflow celery worker`` for one named worker, log server off."""
    return [
        af.airflow_bin(),
        "celery",
        "worker",
        "--concurrency",
        str(concurrency),
        "--celery-hostname",
        f"{name}@%h",
        "--skip-serve-logs",
    ]


def start_worker(name: str, env: Mapping[str, str], log: Path, concurrency: int) -> int:
    """Start one Celery worker; return its PID once Celery reports it ready."""
    worker_env = {
        **env,
        WORKER_NAME_VAR: name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
    }
    offset = log.stat().st_size if log.exists() else 0
    proc = af.spawn(name, worker_command(name, concurrency), worker_env, log)
    try:
        wait_for_worker(proc.pid, name, log, offset, START_TIMEOUT_S)
    except ServiceStartError:
        terminate_tree(proc.pid, af.STOP_TIMEOUT_S)
        raise
    return proc.pid


def wait_for_worker(pid: int, name: str, log: Path, offset: int, timeout: float) -> None:
    """Wait for Celery's ``<name>@<host> ready.`` line in the worker's log."""
    import psutil

    deadline = time.monotonic() + timeout
    marker = f"{name}@"
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                raise ServiceStartError(f"Celery worker {name} (pid {pid}) exited; see {log}")
        except psutil.NoSuchProcess as exc:
            raise ServiceStartError(f"Celery worker {name} (pid {pid}) exited; see {log}") from exc
        with open(log, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", errors="replace")
        if any(marker in line and "ready." in line for line in text.splitlines()):
            LOGGER.info("Celery worker %s ready (pid %s)", name, pid)
            return
        time.sleep(1)
    raise ServiceStartError(f"Celery worker {name} not ready after {timeout:g} s; see {log}")
