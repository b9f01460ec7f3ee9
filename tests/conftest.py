"""Shared fixtures: the real local services the suite starts and stops itself.

- ``es_url`` / ``es``: a real Elasticsearch node (the Maven Central distribution), started
  once per session in a temporary folder on a free port and stopped by PID at the end.
- ``smtp_server`` / ``mailbox``: a real aiosmtpd server on 127.0.0.1 whose messages land in
  a folder the test can read.
- ``airflow_db``: a migrated SQLite Airflow metadata DB in a temporary AIRFLOW_HOME.

The environment for Airflow and kzmon is set here, at import time, before any test module
imports Airflow (Airflow reads its configuration when it is first imported).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("KZMON_SHARED_DIR", REPO_ROOT.parent / "shared"))

SESSION_TMP = Path(tempfile.mkdtemp(prefix="kzmon-tests-"))
# The Elasticsearch node may run as `nobody`, which must be able to reach its folder.
SESSION_TMP.chmod(0o755)

os.environ["AIRFLOW_HOME"] = str(SESSION_TMP / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
    f"sqlite:///{SESSION_TMP / 'airflow' / 'airflow.db'}"
)
# Keep the repository's .state/ for caches (the Elasticsearch download); put run data apart.
os.environ.setdefault("KZMON_STATE_DIR", str(REPO_ROOT / ".state"))
os.environ["KZMON_DATA_DIR"] = str(SESSION_TMP / "data")
(SESSION_TMP / "airflow").mkdir()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the session's temporary folder (services are stopped by their fixtures)."""
    if os.environ.get("KZMON_KEEP_TEST_TMP"):
        return
    shutil.rmtree(SESSION_TMP, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder (samples, outlet copies, benchmarks)."""
    assert SHARED_DIR.is_dir(), f"shared folder not found at {SHARED_DIR}"
    return SHARED_DIR


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """A real Elasticsearch 9.x node for this test session; ES_URL points at it."""
    from kzmon.localstack.es_node import start_node, stop_node

    node_dir = SESSION_TMP / "es"
    info = start_node(node_dir)
    previous = os.environ.get("ES_URL")
    os.environ["ES_URL"] = info.url
    try:
        yield info.url
    finally:
        stop_node(node_dir)
        if previous is None:
            os.environ.pop("ES_URL", None)
        else:
            os.environ["ES_URL"] = previous


@pytest.fixture(scope="session")
def es(es_url: str):
    """An Elasticsearch client on the session's node."""
    from kzmon.es import get_client

    client = get_client()
    yield client
    client.close()


class Mailbox:
    """The messages the test SMTP server has received."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def messages(self) -> list:
        """Every message received so far (oldest first), parsed."""
        from kzmon.localstack.smtp_server import read_mailbox

        return read_mailbox(self.path)

    def clear(self) -> None:
        """Forget what was received."""
        for eml in self.path.glob("*.eml"):
            eml.unlink()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[str, int]]:
    """A real SMTP server on 127.0.0.1; SMTP_HOST/SMTP_PORT point at it."""
    from kzmon.localstack.smtp_server import start_server, stop_server

    run_dir = SESSION_TMP / "smtp"
    info = start_server(run_dir, run_dir / "mailbox")
    os.environ["SMTP_HOST"], os.environ["SMTP_PORT"] = info.host, str(info.port)
    try:
        yield info.host, info.port
    finally:
        stop_server(run_dir)


@pytest.fixture
def mailbox(smtp_server: tuple[str, int]) -> Mailbox:
    """The SMTP server's mailbox, emptied before the test."""
    box = Mailbox(SESSION_TMP / "smtp" / "mailbox")
    box.path.mkdir(parents=True, exist_ok=True)
    box.clear()
    return box


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite Airflow metadata DB; returns AIRFLOW_HOME."""
    home = Path(os.environ["AIRFLOW_HOME"])
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "db", "migrate"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return home
