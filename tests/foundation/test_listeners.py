"""Every local service checks that the listener it waits for is the process it started.

Issue 13, item 9: `make smtp-up` claimed success while another process held its port, and
mail went to that stranger. Each service (SMTP, replay, Elasticsearch, PostgreSQL, the Airflow
API server) must refuse a port another process holds, name the holder, and leave nothing
running; the shared helper must tell its own listener from someone else's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from kzmon.localstack.listeners import (
    PortInUseError,
    ServiceStartError,
    owns_listener,
    tree_listeners,
    wait_for_own_listener,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port held by this test process (a stranger to every service)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.fixture
def work_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kzmon-listeners-"))
    path.chmod(0o755)  # PostgreSQL and Elasticsearch may run as `nobody`
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def _children_now() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _python_listener(port: int) -> subprocess.Popen:
    code = (
        "import socket,time\n"
        f"s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); time.sleep(60)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code])


# --- the shared helper --------------------------------------------------------------------------


def test_helper_recognises_its_own_listener_in_the_process_tree(work_dir: Path) -> None:
    """A listener opened by a child of the started process counts as ours."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (
        "import subprocess,sys\n"
        "subprocess.run([sys.executable,'-c',"
        f"\"import socket,time;s=socket.socket();s.bind(('127.0.0.1',{port}));"
        's.listen();time.sleep(60)"])\n'
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        wait_for_own_listener(parent.pid, port, "test service", timeout=20)
        assert owns_listener(parent.pid, port)
        assert [lst.port for lst in tree_listeners(parent.pid)] == [port]
    finally:
        for child in psutil.Process(parent.pid).children(recursive=True):
            child.kill()
        parent.kill()
        parent.wait()


def test_helper_rejects_a_listener_that_belongs_to_another_process(held_port: int) -> None:
    """The started process does not listen, but the port answers: someone else's."""
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = time.monotonic()
        with pytest.raises(PortInUseError, match=rf"pid {os.getpid()}\b"):
            wait_for_own_listener(idle.pid, held_port, "test service", timeout=20)
        assert time.monotonic() - started < 5, "a foreign listener must fail at once"
    finally:
        idle.kill()
        idle.wait()


def test_helper_reports_a_process_that_exited_before_listening(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(ServiceStartError, match="exited before listening"):
        wait_for_own_listener(dead.pid, port, "test service", timeout=20, log=tmp_path / "x.log")
    dead.wait()


# --- every service --------------------------------------------------------------------------------


def test_make_smtp_up_fails_clearly_when_another_process_holds_the_port(
    held_port: int, work_dir: Path
) -> None:
    """The exact report: `smtp-up` said "127.0.0.1:8025" although another server had it."""
    env = {**os.environ, "KZMON_STATE_DIR": str(work_dir), "SMTP_PORT": str(held_port)}
    result = subprocess.run(
        [sys.executable, "-m", "kzmon.localstack.smtp_server", "up"],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert result.returncode != 0, result.stdout
    assert f"127.0.0.1:{held_port}" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr  # names the holder
    assert not (work_dir / "smtp" / "smtp.json").exists()


def _start_smtp(work_dir: Path, port: int) -> None:
    from kzmon.localstack.smtp_server import start_server

    start_server(work_dir / "smtp", work_dir / "mailbox", port)


def _start_replay(work_dir: Path, port: int) -> None:
    from spiders.replay.server import start_replay

    start_replay(work_dir / "replay", port)


def _start_postgres(work_dir: Path, port: int) -> None:
    from kzmon.localstack.postgres import start_cluster

    start_cluster(work_dir / "pg", port)


def _start_es(work_dir: Path, port: int) -> None:
    from kzmon.localstack.es_node import start_node

    start_node(work_dir / "es", http_port=port)


def _start_api_server(work_dir: Path, port: int) -> None:
    from kzmon.localstack import airflow_components as af

    config = af.AirflowConfig(
        work_dir / "airflow", "postgresql://u:p@127.0.0.1:1/x", port, af.new_secrets()
    )
    env = af.production_env(config, {})
    af.start_api_server(config, env, work_dir / "api-server.log")


@pytest.mark.integration
@pytest.mark.parametrize(
    "start",
    [_start_smtp, _start_replay, _start_postgres, _start_es, _start_api_server],
    ids=["smtp", "replay", "postgres", "elasticsearch", "airflow-api-server"],
)
def test_every_service_refuses_a_port_another_process_holds(
    start, held_port: int, work_dir: Path
) -> None:
    before = _children_now()
    with pytest.raises(PortInUseError, match=rf"127\.0\.0\.1:{held_port}.*pid {os.getpid()}"):
        start(work_dir, held_port)
    leftover = [p for p in _children_now() - before if psutil.pid_exists(p)]
    assert all(psutil.Process(p).status() == psutil.STATUS_ZOMBIE for p in leftover), leftover


@pytest.mark.integration
def test_a_restarted_service_does_not_adopt_a_stranger_on_its_old_port(work_dir: Path) -> None:
    """The SMTP server stopped; another process took its port: `up` must not "reuse" it."""
    from kzmon.localstack.smtp_server import start_server, stop_server

    info = start_server(work_dir / "smtp", work_dir / "mailbox")
    stop_server(work_dir / "smtp")
    # The record survives (a crash), its PID now belongs to an unrelated live process ...
    reused_pid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (work_dir / "smtp" / "smtp.json").write_text(
        f'{{"pid": {reused_pid.pid}, "host": "127.0.0.1", "port": {info.port}, '
        f'"mailbox": "{work_dir / "mailbox"}"}}'
    )
    # ... and another process listens on the old port.
    stranger = _python_listener(info.port)
    try:
        deadline = time.monotonic() + 10
        while not owns_listener(stranger.pid, info.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(PortInUseError, match=f"pid {stranger.pid}"):
            start_server(work_dir / "smtp", work_dir / "mailbox", info.port)
    finally:
        for proc in (stranger, reused_pid):
            proc.kill()
            proc.wait()
