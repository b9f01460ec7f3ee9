"""Production mode on one machine: `make up`, `make down`, `make status`.

`start_stack` starts, in order, the project's PostgreSQL cluster, the local Elasticsearch
node, the SMTP server, the offline replay (unless the live outlets are asked for), then
Airflow's api-server, scheduler, dag-processor and triggerer on that PostgreSQL, waits until
every component is healthy and every DAG file is parsed, and returns one summary (printed as
the last line of ``make up``, JSON). Each component is a small start/stop unit recorded in
the stack's state file (``stack.json``: name, kind, PID and its start time, port, URL, log),
so `stop_stack` stops everything by PID in reverse order, `stack_status` reports what runs.

The scale profile (`StackOptions.scale`, `make up-scale`; ``--scale``) is the same stack as
`docker-compose.scale.yml` describes it: a three-node Elasticsearch cluster instead of the
single node, Redis, the CeleryExecutor and two ``airflow celery worker`` processes
(`kzmon.localstack.scale`), in its own state folder (``.state/scale``).

Usage::

    python -m kzmon.localstack.stack up [--live] [--scale]  # idempotent; JSON summary last
    python -m kzmon.localstack.stack down [--scale]
    python -m kzmon.localstack.stack status [--scale]       # exit 0 when everything runs
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kzmon.localstack import airflow_components as af
from kzmon.localstack import scale
from kzmon.localstack.airflow_api import AirflowApi
from kzmon.localstack.es_node import CLUSTER_NODES
from kzmon.localstack.listeners import (
    PortInUseError,
    ServiceStartError,
    port_is_free,
    tree_listeners,
)
from kzmon.localstack.ports import free_port, terminate_tree
from kzmon.settings import get_settings

LOGGER = logging.getLogger(__name__)

STATE_FILE = "stack.json"


@dataclass
class Component:
    """One running part of the stack, as recorded in the state file."""

    name: str
    kind: str
    pid: int
    create_time: float | None = None
    port: int | None = None
    url: str | None = None
    log: str | None = None
    home: str | None = None
    stop_signal: int = int(signal.SIGTERM)

    def alive(self) -> bool:
        """True while the recorded process (same PID *and* start time) runs."""
        import psutil

        try:
            proc = psutil.Process(self.pid)
            same = self.create_time is None or abs(proc.create_time() - self.create_time) < 1
            return same and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


def process_start_time(pid: int) -> float | None:
    """When ``pid`` started (guards the recorded PID against reuse)."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return None


@dataclass(frozen=True)
class StackLayout:
    """Where one stack keeps its state. `make up` uses `default`; tests use `under`."""

    root: Path
    es_node_dir: Path
    smtp_dir: Path
    data_dir: Path

    @classmethod
    def default(cls) -> StackLayout:
        """`.state/prod`, with the ES node and SMTP mailbox that `make es-up`/`smtp-up` use."""
        settings = get_settings()
        return cls(
            root=settings.state_dir / "prod",
            es_node_dir=settings.state_dir / "es" / "node",
            smtp_dir=settings.state_dir / "smtp",
            data_dir=settings.data_dir,
        )

    @classmethod
    def under(cls, root: Path) -> StackLayout:
        """A self-contained stack in ``root``: the layout `default` gives for
        ``KZMON_STATE_DIR=root`` (so ``make status`` / ``make down`` with it find the stack)."""
        return cls(root / "prod", root / "es" / "node", root / "smtp", root / "data")

    @classmethod
    def scale_default(cls) -> StackLayout:
        """`make up-scale`'s stack: everything of its own under ``.state/scale``."""
        return cls.under(get_settings().state_dir / "scale")

    @property
    def es_cluster_dir(self) -> Path:
        """The scale profile's Elasticsearch nodes (``es01``..``es03``)."""
        return self.root / "es"

    @property
    def redis_dir(self) -> Path:
        """The scale profile's Redis (broker of the Celery workers)."""
        return self.root / "redis"

    @property
    def state_file(self) -> Path:
        """The stack's record of its components."""
        return self.root / STATE_FILE

    @property
    def pg_dir(self) -> Path:
        """The PostgreSQL cluster."""
        return self.root / "postgres"

    @property
    def airflow_home(self) -> Path:
        """AIRFLOW_HOME of production mode (task logs under ``logs/``)."""
        return self.root / "airflow"

    @property
    def replay_dir(self) -> Path:
        """The replay's run folder (``requests.jsonl``)."""
        return self.root / "replay"

    @property
    def logs(self) -> Path:
        """Each component's own output."""
        return self.root / "logs"

    @property
    def mailbox(self) -> Path:
        """Where the SMTP server saves every message."""
        return self.smtp_dir / "mailbox"


@dataclass
class StackOptions:
    """What to start and how (the defaults are `make up`'s)."""

    #: Crawl the offline replay (True) or the live outlets.
    replay: bool = True
    #: An external metadata DB (SQLAlchemy URL) instead of the project's own PostgreSQL.
    db_url: str | None = None
    #: An external Elasticsearch instead of the local node.
    es_url: str | None = None
    smtp_port: int | None = None
    api_port: int | None = None
    parallelism: int = af.PARALLELISM
    #: Extra environment for the components and their tasks (e.g. an index prefix).
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Elasticsearch nodes: 1 is the single node of `make up`; more form one cluster.
    es_nodes: int = 1
    #: Celery workers; 0 keeps the LocalExecutor, more switch to the CeleryExecutor on Redis.
    celery_workers: int = 0
    worker_concurrency: int = scale.WORKER_CONCURRENCY

    @classmethod
    def scale(cls, **overrides: Any) -> StackOptions:
        """The scale profile (`make up-scale`): three ES nodes, Redis, two Celery workers."""
        values: dict[str, Any] = {
            "es_nodes": len(CLUSTER_NODES),
            "celery_workers": scale.WORKERS,
        }
        values.update(overrides)
        return cls(**values)


# --- the state file --------------------------------------------------------------------------


def load_components(layout: StackLayout) -> list[Component]:
    """The recorded components, in start order."""
    try:
        data = json.loads(layout.state_file.read_text())
    except (OSError, ValueError):
        return []
    return [Component(**c) for c in data.get("components", [])]


def _save(layout: StackLayout, components: list[Component], summary: dict | None = None) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    previous: dict[str, Any] = {}
    if layout.state_file.exists():
        try:
            previous = json.loads(layout.state_file.read_text()).get("summary") or {}
        except ValueError:
            previous = {}
    data = {"components": [asdict(c) for c in components], "summary": summary or previous}
    tmp = layout.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(layout.state_file)


def record_component(layout: StackLayout, component: Component) -> None:
    """Add one component to the state file, or replace it in place (by name: the start
    order, and so the stop order, stays that of the first `up`)."""
    components = load_components(layout)
    names = [c.name for c in components]
    if component.name in names:
        components[names.index(component.name)] = component
    else:
        components.append(component)
    _save(layout, components)


def running(layout: StackLayout, name: str) -> Component | None:
    """The recorded component ``name`` if it still runs."""
    for component in load_components(layout):
        if component.name == name and component.alive():
            return component
    return None


# --- stopping ----------------------------------------------------------------------------------


def _stop_es(component: Component) -> bool:
    from kzmon.localstack.es_node import stop_node

    return stop_node(Path(component.home or ""))


def _stop_smtp(component: Component) -> bool:
    from kzmon.localstack.smtp_server import stop_server

    return stop_server(Path(component.home or ""))


def _stop_replay(component: Component) -> bool:
    from spiders.replay.server import stop_replay

    return stop_replay(Path(component.home or ""))


def _stop_postgres(component: Component) -> bool:
    from kzmon.localstack.postgres import stop_cluster

    return stop_cluster(Path(component.home or ""))


def _stop_process(component: Component) -> bool:
    if not component.alive():
        return False
    return terminate_tree(component.pid, af.STOP_TIMEOUT_S, component.stop_signal)


#: How each kind of component stops; anything else is a plain process tree stopped by PID.
STOPPERS: dict[str, Callable[[Component], bool]] = {
    "elasticsearch": _stop_es,
    "smtp": _stop_smtp,
    "replay": _stop_replay,
    "postgres": _stop_postgres,
}


def stop_component(component: Component) -> bool:
    """Stop one component by its PID (and its process tree); True if it was running."""
    stopper = STOPPERS.get(component.kind, _stop_process)
    was_running = component.alive()
    stopper(component)
    if component.alive():  # the kind's own stop missed it: stop the process tree by PID
        terminate_tree(component.pid, af.STOP_TIMEOUT_S, component.stop_signal)
    return was_running


def stop_stack(layout: StackLayout) -> list[str]:
    """Stop every recorded component, last started first; return the names that ran."""
    stopped = []
    components = load_components(layout)
    for component in reversed(components):
        if stop_component(component):
            stopped.append(component.name)
        LOGGER.info("stopped %s (pid %s)", component.name, component.pid)
    _save(layout, [], {})
    return stopped


# --- starting ----------------------------------------------------------------------------------


def _start_postgres(layout: StackLayout) -> tuple[Component, str]:
    from kzmon.localstack.postgres import password, start_cluster

    info = start_cluster(layout.pg_dir)
    component = Component(
        "postgres",
        "postgres",
        info.pid,
        process_start_time(info.pid),
        info.port,
        f"postgresql://{info.user}@{info.host}:{info.port}/{info.database}",
        info.log,
        str(layout.pg_dir),
        int(signal.SIGINT),
    )
    return component, info.url(password(layout.pg_dir))


def _start_es(layout: StackLayout) -> Component:
    from kzmon.localstack.es_node import start_node

    info = start_node(layout.es_node_dir)
    return Component(
        "elasticsearch",
        "elasticsearch",
        info.pid,
        process_start_time(info.pid),
        info.http_port,
        info.url,
        str(layout.es_node_dir / "logs"),
        str(layout.es_node_dir),
    )


def _start_es_cluster(layout: StackLayout, nodes: int) -> list[Component]:
    from kzmon.localstack.es_node import start_cluster

    names = CLUSTER_NODES[:nodes]
    infos = start_cluster(layout.es_cluster_dir, names=names)
    components = []
    for name, info in zip(names, infos, strict=True):
        node_dir = layout.es_cluster_dir / name
        components.append(
            Component(
                name,
                "elasticsearch",
                info.pid,
                process_start_time(info.pid),
                info.http_port,
                info.url,
                str(node_dir / "logs"),
                str(node_dir),
            )
        )
    return components


def _start_redis(layout: StackLayout) -> tuple[Component, str]:
    info = scale.start_redis(layout.redis_dir)
    component = Component(
        "redis",
        "redis",
        info.pid,
        process_start_time(info.pid),
        info.port,
        info.public_url,
        info.log,
        str(layout.redis_dir),
    )
    return component, info.url


def _start_workers(layout: StackLayout, options: StackOptions, env: dict[str, str]) -> None:
    """Start the Celery workers that are not running (``worker1``, ``worker2``, ...)."""
    for number in range(1, options.celery_workers + 1):
        name = f"worker{number}"
        if running(layout, name):
            continue
        log = layout.logs / f"{name}.log"
        pid = scale.start_worker(name, env, log, options.worker_concurrency)
        record_component(
            layout,
            Component(name, "celery-worker", pid, process_start_time(pid), log=str(log)),
        )


def _start_smtp(layout: StackLayout, port: int | None) -> Component:
    from kzmon.localstack.smtp_server import start_server

    info = start_server(layout.smtp_dir, layout.mailbox, port)
    return Component(
        "smtp",
        "smtp",
        info.pid,
        process_start_time(info.pid),
        info.port,
        f"smtp://{info.host}:{info.port}",
        str(layout.smtp_dir / "smtp.log"),
        str(layout.smtp_dir),
    )


def _start_replay(layout: StackLayout) -> Component:
    from spiders.replay.server import start_replay

    info = start_replay(layout.replay_dir)
    return Component(
        "replay",
        "replay",
        info.pid,
        process_start_time(info.pid),
        int(info.url.rsplit(":", 1)[1]),
        info.url,
        str(layout.replay_dir / "replay.log"),
        str(layout.replay_dir),
    )


def _kzmon_env(
    layout: StackLayout, options: StackOptions, es_url: str, smtp: Component
) -> dict[str, str]:
    env = af.base_env(
        layout.airflow_home,
        None,
        smtp_host="127.0.0.1",
        smtp_port=int(smtp.port or 0),
        es_url=es_url,
    )
    env["KZMON_DATA_DIR"] = str(layout.data_dir)
    env["KZMON_STATE_DIR"] = str(get_settings().state_dir)
    env.update(options.extra_env)
    return env


def _airflow_config(layout: StackLayout, options: StackOptions, db_url: str) -> af.AirflowConfig:
    previous = running(layout, "api-server")
    port = options.api_port or (previous.port if previous else None) or _last_api_port(layout)
    (layout.root / "api-port").write_text(str(port))
    secrets = af.load_or_create_secrets(layout.root / "secrets.json")
    return af.AirflowConfig(layout.airflow_home, db_url, int(port), secrets, options.parallelism)


def _last_api_port(layout: StackLayout) -> int:
    """The UI's port of the last `make up` when it is still free (bookmarks keep working)."""
    try:
        port = int((layout.root / "api-port").read_text())
    except (OSError, ValueError):
        return free_port()
    return port if port_is_free(port) else free_port()


def _start_airflow(layout: StackLayout, config: af.AirflowConfig, env: dict[str, str]) -> None:
    layout.airflow_home.mkdir(parents=True, exist_ok=True)
    layout.logs.mkdir(parents=True, exist_ok=True)
    if not all(running(layout, name) for name in af.COMPONENTS):
        af.migrate(env, layout.logs)
    api = AirflowApi(config.api_url)
    started: dict[str, int] = {}
    logs = {name: layout.logs / f"{name}.log" for name in af.COMPONENTS}
    for name in af.COMPONENTS:
        if running(layout, name):
            continue
        if name == "api-server":
            pid = af.start_api_server(config, env, logs[name])
        else:
            pid = af.start_heartbeating(name, config, env, logs[name])
            started[name] = pid
        port = config.api_port if name == "api-server" else None
        url = config.api_url if name == "api-server" else None
        record_component(
            layout,
            Component(
                name, "airflow", pid, process_start_time(pid), port, url, str(logs[name]), None
            ),
        )
    af.wait_until_healthy(api, started, logs, af.START_TIMEOUT_S)


def start_stack(layout: StackLayout, options: StackOptions | None = None) -> dict[str, Any]:
    """Start (or complete) the stack; return the summary `make up` prints."""
    options = options or StackOptions()
    began = time.monotonic()
    if options.db_url:
        af.refuse_sqlite(options.db_url)
    layout.root.mkdir(parents=True, exist_ok=True)
    db_url = options.db_url
    if not db_url:
        pg, db_url = _start_postgres(layout)
        record_component(layout, pg)
    if options.es_url:
        es_url = options.es_url
    elif options.es_nodes > 1:
        nodes = _start_es_cluster(layout, options.es_nodes)
        for node in nodes:
            record_component(layout, node)
        es_url = ",".join(str(node.url) for node in nodes)
    else:
        es = _start_es(layout)
        record_component(layout, es)
        es_url = str(es.url)
    smtp = _start_smtp(layout, options.smtp_port)
    record_component(layout, smtp)
    broker_url = None
    if options.celery_workers:
        redis, broker_url = _start_redis(layout)
        record_component(layout, redis)
    env = _kzmon_env(layout, options, es_url, smtp)
    replay_url = None
    if options.replay:
        replay = _start_replay(layout)
        record_component(layout, replay)
        replay_url = replay.url
        env["KZMON_REPLAY_URL"] = str(replay_url)
    else:
        env.pop("KZMON_REPLAY_URL", None)
    config = _airflow_config(layout, options, db_url)
    full_env = af.production_env(config, env)
    if not options.replay:
        full_env.pop("KZMON_REPLAY_URL", None)
    if broker_url:
        full_env.update(scale.celery_env(broker_url, db_url, options.worker_concurrency))
    _start_airflow(layout, config, full_env)
    if options.celery_workers:
        _start_workers(layout, options, full_env)
    dags = af.wait_for_dags(AirflowApi(config.api_url), af.START_TIMEOUT_S)
    summary = {
        "airflow_url": config.api_url,
        "es_url": es_url,
        "mailbox": str(layout.mailbox),
        "smtp": f"127.0.0.1:{smtp.port}",
        "postgres": next((c.url for c in load_components(layout) if c.name == "postgres"), None),
        "replay_url": replay_url,
        "executor": full_env["AIRFLOW__CORE__EXECUTOR"],
        "es_nodes": options.es_nodes if not options.es_url else None,
        "redis": next((c.url for c in load_components(layout) if c.name == "redis"), None),
        "celery_workers": [c.name for c in load_components(layout) if c.kind == "celery-worker"],
        "dags": len(dags),
        "paused": sorted(d["dag_id"] for d in dags if d["is_paused"]),
        "logs": str(layout.logs),
        "task_logs": str(layout.airflow_home / "logs"),
        "state_file": str(layout.state_file),
        "seconds": round(time.monotonic() - began, 1),
    }
    _save(layout, load_components(layout), summary)
    return summary


# --- status ------------------------------------------------------------------------------------


def stack_status(layout: StackLayout) -> dict[str, Any]:
    """What runs: each component's PID, liveness, port and listeners; Airflow's health."""
    components = load_components(layout)
    report: dict[str, Any] = {"components": [], "running": 0, "recorded": len(components)}
    for component in components:
        alive = component.alive()
        listeners = sorted({f"{lst.ip}:{lst.port}" for lst in tree_listeners(component.pid)})
        report["components"].append(
            {
                "name": component.name,
                "pid": component.pid,
                "running": alive,
                "url": component.url,
                "listening": listeners if alive else [],
                "log": component.log,
            }
        )
        report["running"] += alive
    api = next((c for c in components if c.name == "api-server" and c.alive()), None)
    if api and api.url:
        health = AirflowApi(api.url, timeout=5).health() or {}
        report["airflow_health"] = {k: (v or {}).get("status") for k, v in health.items()}
    return report


def _print_status(report: dict[str, Any]) -> None:
    if not report["recorded"]:
        print("nothing recorded: the stack is not running (make up / make up-scale)")
        return
    for comp in report["components"]:
        state = "running" if comp["running"] else "STOPPED"
        where = ", ".join(comp["listening"]) or "-"
        print(f"{comp['name']:<14} {state:<8} pid {comp['pid']:<8} {where:<22} {comp['url'] or ''}")
    if "airflow_health" in report:
        print("airflow health:", json.dumps(report["airflow_health"]))


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else None


def main(argv: list[str] | None = None) -> int:
    """Command line: ``up`` | ``down`` | ``status``."""
    parser = argparse.ArgumentParser(prog="python -m kzmon.localstack.stack")
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--live", action="store_true", help="crawl the live outlets, no replay")
    parser.add_argument(
        "--scale", action="store_true", help="the scale profile: 3 ES nodes, Celery workers"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    layout = StackLayout.scale_default() if args.scale else StackLayout.default()
    verb = "make up-scale" if args.scale else "make up"
    if args.action == "up":
        profile = StackOptions.scale if args.scale else StackOptions
        options = profile(
            replay=not (args.live or os.environ.get("KZMON_LIVE", "") in {"1", "true"}),
            db_url=os.environ.get("KZMON_AIRFLOW_DB_URL") or None,
            smtp_port=_env_int("SMTP_PORT"),
            api_port=_env_int("KZMON_AIRFLOW_PORT"),
        )
        try:
            summary = start_stack(layout, options)
        except (af.SqliteRefusedError, PortInUseError, ServiceStartError) as exc:
            print(f"{verb} failed: {exc}", file=sys.stderr)
            print(
                f"(what did start is still recorded: `{verb.replace('up', 'status')}`, "
                f"`{verb.replace('up', 'down')}`)",
                file=sys.stderr,
            )
            return 1
        print(json.dumps(summary))
        return 0
    if args.action == "down":
        stopped = stop_stack(layout)
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        return 0
    report = stack_status(layout)
    _print_status(report)
    return 0 if report["recorded"] and report["running"] == report["recorded"] else 1


if __name__ == "__main__":
    sys.exit(main())
