"""The project's own PostgreSQL cluster: the Airflow metadata DB of `make up`.

Debian's ``postgresql`` package (installed by ``make system-packages`` when missing) provides
the binaries; this module runs a private cluster from them, under the state folder, bound to
127.0.0.1 on a free port that it keeps across restarts. PostgreSQL refuses to run as root, so
when we are root the cluster runs as ``nobody`` (like the Elasticsearch node). The superuser
``airflow`` authenticates with SCRAM and a generated password kept in ``secret`` (mode 0600) in
the cluster folder; the unix socket lives in the cluster folder too, never in /run.

Usage::

    python -m kzmon.localstack.postgres up | down | status [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from kzmon.localstack.listeners import (
    PortInUseError,
    ServiceStartError,
    ensure_port_free,
    owns_listener,
    wait_for_own_listener,
)
from kzmon.localstack.ports import free_port, pid_alive, terminate
from kzmon.localstack.privileges import as_unprivileged, check_reachable, hand_over
from kzmon.settings import get_settings

LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"
USER = "airflow"
DATABASE = "airflow"
#: Airflow's components each keep a small SQLAlchemy pool (5 + overflow); with the
#: LocalExecutor's task processes 100 connections is tight, 200 leaves room (~1 MiB each).
MAX_CONNECTIONS = 200
START_TIMEOUT_S = float(os.environ.get("KZMON_PG_START_TIMEOUT", "60"))
#: Fast shutdown (SIGINT) rolls back open transactions and ends at once; SIGTERM ("smart")
#: would wait for every client to disconnect.
STOP_SIGNAL = signal.SIGINT
STOP_TIMEOUT_S = 30.0


@dataclass
class PostgresInfo:
    """What `start_cluster` records about the running cluster (``cluster.json``)."""

    pid: int
    host: str
    port: int
    user: str
    database: str
    data_dir: str
    log: str
    version: str

    def url(self, password: str, driver: str = "postgresql+psycopg2") -> str:
        """The SQLAlchemy URL of the Airflow database."""
        return f"{driver}://{self.user}:{password}@{self.host}:{self.port}/{self.database}"


def find_bindir() -> Path:
    """The newest Debian PostgreSQL ``bin`` folder (``KZMON_PG_BINDIR`` overrides)."""
    override = os.environ.get("KZMON_PG_BINDIR")
    if override:
        return Path(override)
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        raise RuntimeError(
            "PostgreSQL is not installed: run `make system-packages` (apt-get install "
            "postgresql) or set KZMON_PG_BINDIR"
        )
    return versions[-1]


def _version(bindir: Path) -> str:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    )
    match = re.search(r"\(PostgreSQL\) (\S+)", out.stdout)
    return match.group(1) if match else out.stdout.strip()


def password(cluster_dir: Path) -> str:
    """The superuser's password (created with the cluster)."""
    return (cluster_dir / "secret").read_text().strip()


def _info_file(cluster_dir: Path) -> Path:
    return cluster_dir / "cluster.json"


def read_cluster(cluster_dir: Path) -> PostgresInfo | None:
    """The recorded cluster, if its postmaster is alive and owns its port."""
    path = _info_file(cluster_dir)
    if not path.exists():
        return None
    info = PostgresInfo(**json.loads(path.read_text()))
    if pid_alive(info.pid) and owns_listener(info.pid, info.port):
        return info
    return None


def _recorded_port(cluster_dir: Path) -> int | None:
    try:
        return int(json.loads((cluster_dir / "port").read_text()))
    except (OSError, ValueError):
        return None


def _init_cluster(cluster_dir: Path, bindir: Path) -> None:
    """initdb (as ``nobody`` when root) with SCRAM auth and a generated password."""
    data = cluster_dir / "data"
    if (data / "PG_VERSION").exists():
        return
    check_reachable(cluster_dir, "PostgreSQL")
    secret_file = cluster_dir / "secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(24))
        secret_file.chmod(0o600)
    pwfile = cluster_dir / "run" / "initdb.pw"
    pwfile.write_text(password(cluster_dir))
    pwfile.chmod(0o600)
    data.mkdir(mode=0o700)
    hand_over(cluster_dir / "run")
    hand_over(data, 0o700)
    cmd = [
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        USER,
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    ]
    with open(cluster_dir / "initdb.log", "wb") as log:
        result = subprocess.run(as_unprivileged(cmd), stdout=log, stderr=subprocess.STDOUT)
    pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise ServiceStartError(f"initdb failed; see {cluster_dir / 'initdb.log'}")


def _ready(info: PostgresInfo, secret: str) -> bool:
    import psycopg2

    try:
        conn = psycopg2.connect(
            host=info.host,
            port=info.port,
            user=info.user,
            password=secret,
            dbname="postgres",
            connect_timeout=2,
        )
    except psycopg2.OperationalError:
        return False
    conn.close()
    return True


def _ensure_database(info: PostgresInfo, secret: str) -> None:
    import psycopg2

    conn = psycopg2.connect(
        host=info.host, port=info.port, user=info.user, password=secret, dbname="postgres"
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (info.database,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{info.database}"')
                LOGGER.info("created database %s", info.database)
    finally:
        conn.close()


def start_cluster(cluster_dir: Path, port: int | None = None) -> PostgresInfo:
    """Start the cluster in ``cluster_dir`` (created on first use; idempotent).

    It comes back on its recorded port; it fails clearly when that port is held by another
    process, and is reported up only once its own postmaster listens and accepts a login.
    """
    cluster_dir = Path(cluster_dir).resolve()
    running = read_cluster(cluster_dir)
    if running and (port is None or port == running.port):
        return running
    bindir = find_bindir()
    (cluster_dir / "run").mkdir(parents=True, exist_ok=True)
    _init_cluster(cluster_dir, bindir)
    port = port or _recorded_port(cluster_dir) or free_port()
    ensure_port_free(port, "PostgreSQL", HOST)
    (cluster_dir / "port").write_text(str(port))
    log_path = cluster_dir / "postgres.log"
    hand_over(cluster_dir / "run")
    cmd = [
        str(bindir / "postgres"),
        "-D",
        str(cluster_dir / "data"),
        "-c",
        f"listen_addresses={HOST}",
        "-c",
        f"port={port}",
        "-c",
        f"unix_socket_directories={cluster_dir / 'run'}",
        "-c",
        f"max_connections={MAX_CONNECTIONS}",
        "-c",
        "logging_collector=off",
    ]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            as_unprivileged(cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    info = PostgresInfo(
        proc.pid, HOST, port, USER, DATABASE, str(cluster_dir / "data"), str(log_path), ""
    )
    secret = password(cluster_dir)
    try:
        wait_for_own_listener(
            proc.pid,
            port,
            "PostgreSQL",
            timeout=START_TIMEOUT_S,
            log=log_path,
            ready=lambda: _ready(info, secret),
        )
        _ensure_database(info, secret)
    except (PortInUseError, ServiceStartError):
        terminate(proc.pid, STOP_TIMEOUT_S, STOP_SIGNAL)
        proc.wait()
        raise
    info.version = _version(bindir)
    _info_file(cluster_dir).write_text(json.dumps(asdict(info)))
    LOGGER.info("PostgreSQL %s up on %s:%s (pid %s)", info.version, HOST, port, proc.pid)
    return info


def stop_cluster(cluster_dir: Path) -> bool:
    """Stop the cluster by its postmaster's PID (fast shutdown); True if it was running."""
    path = _info_file(Path(cluster_dir))
    if not path.exists():
        return False
    info = PostgresInfo(**json.loads(path.read_text()))
    path.unlink()
    return terminate(info.pid, STOP_TIMEOUT_S, STOP_SIGNAL)


def default_cluster_dir() -> Path:
    """The cluster that `make up` manages."""
    return get_settings().state_dir / "prod" / "postgres"


def main(argv: list[str] | None = None) -> int:
    """Command line: ``up`` | ``down`` | ``status``."""
    parser = argparse.ArgumentParser(prog="python -m kzmon.localstack.postgres")
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=None, help="cluster folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cluster_dir = args.dir or default_cluster_dir()
    if args.action == "up":
        try:
            info = start_cluster(cluster_dir)
        except (PortInUseError, ServiceStartError) as exc:
            print(f"postgres up failed: {exc}", file=sys.stderr)
            return 1
        print(f"{info.host}:{info.port}")
        return 0
    if args.action == "down":
        print("stopped" if stop_cluster(cluster_dir) else "not running")
        return 0
    info = read_cluster(cluster_dir)
    print(f"{info.host}:{info.port}" if info else "not running")
    return 0 if info else 1


if __name__ == "__main__":
    sys.exit(main())
