"""Issue #13 item 13, deployment side: ``deploy/kzmon-init.sh`` never puts ``SMTP_PASSWORD`` on a
command line, and refuses to configure an SMTP login without TLS unless it is allowed.

The real script runs here (real Airflow CLI on a copy of the session's migrated SQLite
metadata DB, real ``python -m kzmon.indexer setup`` against the session's Elasticsearch node)
while a watcher reads every process's command line (``/proc/<pid>/cmdline``, what ``ps``
shows any user) until the script ends. The connection it creates is then read back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

pytestmark = pytest.mark.integration

SCRIPT = REPO_ROOT / "deploy" / "kzmon-init.sh"


class CmdlineWatcher(threading.Thread):
    """Collects the command lines of any process that shows ``needle``."""

    def __init__(self, needle: str) -> None:
        super().__init__(daemon=True)
        self.needle = needle.encode()
        self.stop = threading.Event()
        self.seen: list[str] = []
        self.scans = 0

    def run(self) -> None:
        own = str(os.getpid())
        while not self.stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or pid == own:
                    continue
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if self.needle in cmdline:
                    self.seen.append(cmdline.replace(b"\0", b" ").decode("utf-8", "replace"))
            self.scans += 1


@pytest.fixture
def init_env(airflow_db: Path, es_url: str, tmp_path: Path):
    """The environment of the compose ``kzmon-init`` service, pointed at test folders."""
    db = tmp_path / "airflow.db"
    shutil.copy(airflow_db / "airflow.db", db)
    prefix = f"kzt{uuid.uuid4().hex[:10]}"
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_UID": str(os.getuid()),
        "AIRFLOW_ADMIN_USERNAME": "admin",
        "AIRFLOW_ADMIN_PASSWORD": f"admin-{uuid.uuid4().hex}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "passwords.json"),
        "KZMON_STATE_DIR": str(tmp_path / "state"),
        "KZMON_DATA_DIR": str(tmp_path / "state" / "data"),
        "DONE_MARKER": str(tmp_path / "done"),
        "ES_URL": es_url,
        "KZMON_INDEX_PREFIX": prefix,
        "SMTP_HOST": "relay.example.org",
        "SMTP_PORT": "587",
        "SMTP_USER": "kzmon-relay",
        "SMTP_PASSWORD": f"pw-{uuid.uuid4().hex}",
        "SMTP_STARTTLS": "true",
        "SMTP_SSL": "false",
        "KZMON_MAIL_FROM": "kzmon <alerts@example.org>",
    }
    yield env
    from elasticsearch import Elasticsearch

    with Elasticsearch(es_url) as es:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
        es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-*")
        for part in ("settings", "mappings", "analysis"):
            es.options(ignore_status=404).cluster.delete_component_template(
                name=f"{prefix}-articles-{part}"
            )


def _run_watched(env: dict[str, str]) -> tuple[subprocess.CompletedProcess, CmdlineWatcher]:
    watcher = CmdlineWatcher(env["SMTP_PASSWORD"])
    watcher.start()
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600
        )
    finally:
        watcher.stop.set()
        watcher.join()
    return done, watcher


def _connection(env: dict[str, str]) -> dict:
    """The connection as Airflow stores it (read with Airflow's own model)."""
    code = (
        "import json; from airflow.models import Connection\n"
        "c = Connection.get_connection_from_secrets('smtp_default')\n"
        "print(json.dumps({'conn_type': c.conn_type, 'host': c.host, 'port': c.port,"
        " 'login': c.login, 'password': c.password, 'extra': c.extra_dejson}))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert shown.returncode == 0, shown.stderr[-3000:]
    return json.loads(shown.stdout.strip().splitlines()[-1])


def test_init_never_shows_the_smtp_password_on_a_command_line(init_env: dict) -> None:
    done, watcher = _run_watched(init_env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert watcher.scans > 10  # the watcher was looking the whole time
    assert watcher.seen == [], watcher.seen
    assert init_env["SMTP_PASSWORD"] not in done.stdout + done.stderr
    assert Path(init_env["DONE_MARKER"]).is_file()
    assert not list(Path(init_env["TMPDIR"]).glob("kzmon-smtp-conn.*"))  # removed

    conn = _connection(init_env)
    assert (conn["conn_type"], conn["host"]) == ("smtp", "relay.example.org")
    assert int(conn["port"]) == 587
    assert (conn["login"], conn["password"]) == ("kzmon-relay", init_env["SMTP_PASSWORD"])
    extra = conn["extra"]
    assert extra["disable_tls"] is False and extra["disable_ssl"] is True


def test_init_refuses_a_login_without_tls(init_env: dict) -> None:
    """(``SMTP_ALLOW_INSECURE_AUTH=true`` lets it through: the same rule as
    `kzmon.alerts.delivery`, tested against a real server in tests/alerts/test_smtp_tls.py.)"""
    plain = {**init_env, "SMTP_STARTTLS": "false"}
    refused, watcher = _run_watched(plain)
    assert refused.returncode != 0
    assert "refusing an SMTP login without TLS" in refused.stderr
    assert watcher.seen == []
    assert not Path(plain["DONE_MARKER"]).exists()
