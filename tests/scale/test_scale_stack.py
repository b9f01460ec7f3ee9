"""Scale-out mode under the real scheduler: the stack `make up-scale` starts (three
Elasticsearch nodes on loopback, Redis, the CeleryExecutor and two Celery workers on top of
production mode), driven through REST, with a worker and a node killed on purpose.

One stack for the module, the same `start_stack` that `make up-scale` calls, in a temporary
folder. The tests run in file order and build on each other. Heartbeat and retry delays are
shortened through the environment so that a killed worker's task is retried within a minute.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from kzmon.localstack.airflow_api import AirflowApi
from kzmon.localstack.es_node import cluster_health
from kzmon.localstack.listeners import is_loopback, owns_listener, port_is_free, process_tree
from kzmon.localstack.stack import (
    Component,
    StackLayout,
    StackOptions,
    load_components,
    start_stack,
    stop_component,
    stop_stack,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 900
#: The throughput passes: two outlet DAGs (8 tasks) from an empty crawl state, with one and
#: with two workers (kept small: the suite's whole run has a 40-minute budget; all sixteen
#: outlets on two workers are timed by the test before).
THROUGHPUT_DAGS = (
    "kzmon_outlet_jamestown",
    "kzmon_outlet_vlast",
)
KILL_DAG = "kzmon_outlet_thediplomat"
WORKER_HOST = re.compile(r"^(worker\d+)@")
#: Test-only: a dead worker's task is failed after 20 s without heartbeat, retried 3-6 s later.
FAST_RECOVERY_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "KZMON_RETRY_DELAY_SECONDS": "3",
}


@dataclass
class Stack:
    layout: StackLayout
    options: StackOptions
    summary: dict
    api: AirflowApi
    seen: dict[int, float] = field(default_factory=dict)
    listeners: set[tuple[str, int, str]] = field(default_factory=set)
    figures: dict[str, float] = field(default_factory=dict)

    def component(self, name: str) -> Component:
        return next(c for c in load_components(self.layout) if c.name == name)

    def sample(self) -> None:
        """Every PID and listening socket of the stack's process trees, so far."""
        for component in load_components(self.layout):
            for proc in process_tree(component.pid):
                try:
                    self.seen.setdefault(proc.pid, proc.create_time())
                    for conn in proc.net_connections(kind="inet"):
                        if conn.status == psutil.CONN_LISTEN:
                            self.listeners.add((conn.laddr.ip, conn.laddr.port, component.name))
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="kzmon-scale-"))
    root.chmod(0o755)  # PostgreSQL, Redis and Elasticsearch run as `nobody` when we are root
    layout = StackLayout.under(root)
    options = StackOptions.scale(extra_env=dict(FAST_RECOVERY_ENV))
    began = time.monotonic()
    try:
        summary = start_stack(layout, options)
        stack = Stack(layout, options, summary, AirflowApi(summary["airflow_url"]))
        stack.figures["up_scale_s"] = round(time.monotonic() - began, 1)
        yield stack
    finally:
        stop_stack(layout)
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and "stack" in locals():
            reporter.write_line(f"\nscale-out figures: {json.dumps(stack.figures)}")
        if not os.environ.get("KZMON_KEEP_TEST_TMP"):
            shutil.rmtree(root, ignore_errors=True)


def _wait_for_runs(api: AirflowApi, runs: dict[str, str]) -> dict[str, dict]:
    return {
        dag_id: api.wait_for_run(dag_id, run_id, RUN_TIMEOUT_S) for dag_id, run_id in runs.items()
    }


def _workers_of(api: AirflowApi, dag_id: str, run_id: str) -> dict[str, str]:
    """task id -> the worker that ran it (from the task instance's hostname)."""
    found = {}
    for ti in api.task_instances(dag_id, run_id):
        match = WORKER_HOST.match(ti.get("hostname") or "")
        found[ti["task_id"]] = match.group(1) if match else f"not a worker: {ti.get('hostname')}"
    return found


def test_up_scale_starts_the_compose_scale_stack_on_loopback(stack: Stack) -> None:
    names = [c.name for c in load_components(stack.layout)]
    assert names == [
        "postgres",
        "es01",
        "es02",
        "es03",
        "smtp",
        "redis",
        "replay",
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker1",
        "worker2",
    ]
    for component in load_components(stack.layout):
        assert component.alive(), component.name
        if component.port:
            assert owns_listener(component.pid, component.port), component.name
    assert stack.summary["executor"] == "CeleryExecutor"
    assert stack.summary["celery_workers"] == ["worker1", "worker2"]
    es_urls = stack.summary["es_url"].split(",")
    assert len(es_urls) == 3
    # (the first runs are creating indices: wait until their replicas are allocated)
    health_url = f"{es_urls[0]}/_cluster/health?wait_for_status=green&timeout=60s"
    with urllib.request.urlopen(health_url, timeout=70) as resp:
        health = json.loads(resp.read())
    assert health["number_of_nodes"] == 3 and health["status"] == "green"
    stack.sample()
    workers = [c for c in load_components(stack.layout) if c.kind == "celery-worker"]
    for worker in workers:  # --skip-serve-logs: a worker listens nowhere
        assert not [lst for lst in stack.listeners if lst[2] == worker.name]
    assert all(is_loopback(ip) for ip, _, _ in stack.listeners), stack.listeners


def test_every_outlet_dag_runs_on_the_celery_workers(stack: Stack) -> None:
    """The first scheduled run of every outlet DAG (all active from the start): each task
    instance's hostname names a worker, both workers took tasks, and each worker's log shows
    the DAGs it executed."""
    outlets = stack.api.outlet_dag_ids()
    assert len(outlets) >= 7
    first = {}
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while len(first) < len(outlets) and time.monotonic() < deadline:
        for dag_id in outlets:
            runs = stack.api.runs(dag_id, run_type="scheduled")
            if runs and runs[0]["state"] in {"success", "failed"}:
                first[dag_id] = runs[0]
        time.sleep(3)
        stack.sample()
    assert {d: r["state"] for d, r in first.items()} == dict.fromkeys(outlets, "success")
    ran_on: dict[str, set[str]] = {}
    for dag_id, run in first.items():
        workers = _workers_of(stack.api, dag_id, run["dag_run_id"])
        assert set(workers) == {"crawl", "enrich", "index", "record"}
        assert all(w.startswith("worker") for w in workers.values()), (dag_id, workers)
        for worker in workers.values():
            ran_on.setdefault(worker, set()).add(dag_id)
    assert set(ran_on) == {"worker1", "worker2"}, ran_on
    for worker, dags in ran_on.items():
        log = Path(stack.component(worker).log or "").read_text(errors="replace")
        for dag_id in dags:
            assert f"dag_id={dag_id}" in log, (worker, dag_id)
    starts = [r["start_date"] for r in first.values()]
    ends = [r["end_date"] for r in first.values()]
    from datetime import datetime

    span = datetime.fromisoformat(max(ends)) - datetime.fromisoformat(min(starts))
    stack.figures[f"all_{len(outlets)}_outlet_dags_2_workers_s"] = round(span.total_seconds(), 1)


def _clear_crawl_state(stack: Stack, dag_ids: tuple[str, ...]) -> None:
    """Forget what the crawls have seen, so that a pass does the same work as the first."""
    for dag_id in dag_ids:
        outlet = dag_id.removeprefix("kzmon_outlet_")
        for path in (stack.layout.data_dir / "crawl-state").glob(f"{outlet}.sqlite*"):
            path.unlink()


def _timed_pass(stack: Stack, dag_ids: tuple[str, ...]) -> float:
    _clear_crawl_state(stack, dag_ids)
    began = time.monotonic()
    runs = {dag_id: stack.api.trigger(dag_id)["dag_run_id"] for dag_id in dag_ids}
    done = _wait_for_runs(stack.api, runs)
    seconds = time.monotonic() - began
    assert {d: r["state"] for d, r in done.items()} == dict.fromkeys(dag_ids, "success")
    return round(seconds, 1)


def test_throughput_with_one_and_with_two_workers(stack: Stack) -> None:
    """The same outlet DAGs from an empty crawl state, on one worker, then on two."""
    stop_component(stack.component("worker2"))
    one = _timed_pass(stack, THROUGHPUT_DAGS)
    start_stack(stack.layout, stack.options)  # `make up-scale` again: brings worker2 back
    assert stack.component("worker2").alive()
    two = _timed_pass(stack, THROUGHPUT_DAGS)
    n = len(THROUGHPUT_DAGS)
    stack.figures.update({f"{n}_dags_1_worker_s": one, f"{n}_dags_2_workers_s": two})
    stack.figures["speed_up"] = round(one / two, 2)
    print(f"\nthroughput, {n} outlet DAGs ({4 * n} tasks): 1 worker {one} s, 2 workers {two} s")
    stack.sample()


def _kill_tree(pid: int) -> None:
    """SIGKILL a worker and everything under it (its pool, the task, the crawl subprocess)."""
    procs = process_tree(pid)
    for proc in procs:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(procs, timeout=10)


def test_a_killed_worker_s_task_is_retried_and_completes_on_the_other(stack: Stack) -> None:
    _clear_crawl_state(stack, (KILL_DAG,))
    run_id = stack.api.trigger(KILL_DAG)["dag_run_id"]
    deadline = time.monotonic() + 300
    victim = None
    while victim is None and time.monotonic() < deadline:
        crawl = next(
            t for t in stack.api.task_instances(KILL_DAG, run_id) if t["task_id"] == "crawl"
        )
        match = WORKER_HOST.match(crawl.get("hostname") or "")
        if crawl["state"] == "running" and match:
            victim = match.group(1)
        time.sleep(0.5)
    assert victim, "the crawl task never ran"
    time.sleep(2)  # mid-task: the crawl subprocess is fetching
    _kill_tree(stack.component(victim).pid)
    assert not stack.component(victim).alive()
    done = stack.api.wait_for_run(KILL_DAG, run_id, RUN_TIMEOUT_S)
    assert done["state"] == "success"
    crawl = next(t for t in stack.api.task_instances(KILL_DAG, run_id) if t["task_id"] == "crawl")
    survivor = {"worker1": "worker2", "worker2": "worker1"}[victim]
    assert crawl["try_number"] >= 2, crawl
    assert WORKER_HOST.match(crawl["hostname"]).group(1) == survivor
    assert set(_workers_of(stack.api, KILL_DAG, run_id).values()) == {survivor}
    start_stack(stack.layout, stack.options)  # the killed worker comes back
    assert stack.component(victim).alive()


def _copies(stack: Stack, count: int) -> list[dict]:
    """``count`` article records: the replay's indexed articles under new URLs."""
    records = []
    for path in sorted((stack.layout.data_dir / "crawl").glob("*/*/articles.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if "error" not in record and record.get("text"):
                records.append(record)
    assert records
    copies = []
    for number in range(count):
        record = dict(records[number % len(records)])
        url = f"https://scale-test.invalid/{number}"
        record["url"] = record["canonical_url"] = url
        copies.append(record)
    return copies


def test_killing_an_es_node_during_indexing_loses_nothing(stack: Stack) -> None:
    """Index 3,000 articles through the project's bulk indexer (the index task's function);
    SIGKILL the node holding the write index's primary half-way: the cluster goes yellow
    (never red), every document is indexed, and after `make up-scale` brings the node back
    the cluster is green with every copy."""
    from elasticsearch import Elasticsearch

    from kzmon.es import es_hosts
    from kzmon.indexer import index_articles
    from kzmon.indexer.bulk import IndexOptions

    hosts = es_hosts(stack.summary["es_url"])
    es = Elasticsearch(hosts, request_timeout=30, max_retries=3, retry_on_timeout=True)
    settings = es.indices.get_settings(index="kzmon-*", name="index.number_of_replicas")
    assert {i: s["settings"]["index"]["number_of_replicas"] for i, s in settings.items()} == (
        dict.fromkeys(settings, "1")
    )
    write = next(iter(es.indices.get_alias(name="kzmon-articles-write")))
    primary = next(
        s["node"] for s in es.cat.shards(index=write, format="json") if s["prirep"] == "p"
    )
    copies = _copies(stack, 3000)
    result: dict = {}

    def index() -> None:
        result["r"] = index_articles(
            copies,
            es=es,
            run_id="scale-kill-test",
            dead_letter_dir=stack.layout.root / "dead-letter-test",
            options=IndexOptions(chunk_size=100),
        )

    worker = threading.Thread(target=index)
    worker.start()
    query = {"prefix": {"canonical_url": "https://scale-test.invalid/"}}
    while es.count(index=write, query=query)["count"] < 500 and worker.is_alive():
        es.indices.refresh(index=write)
        time.sleep(0.2)
    victim = stack.component(primary)
    os.kill(victim.pid, signal.SIGKILL)
    survivors = [u for u, c in zip(hosts, ("es01", "es02", "es03"), strict=True) if c != primary]
    statuses = set()
    while worker.is_alive():
        statuses.add(cluster_health(survivors[0], timeout=5))
        time.sleep(0.5)
    worker.join()
    statuses.add(cluster_health(survivors[0], timeout=5))
    indexed = result["r"]
    assert indexed.indexed == len(copies) and indexed.failed == 0, indexed.errors[:3]
    assert "yellow" in statuses and "red" not in statuses, statuses
    start_stack(stack.layout, stack.options)  # brings the killed node back on its ports
    assert stack.component(primary).alive() and stack.component(primary).pid != victim.pid
    health = es.cluster.health(wait_for_status="green", wait_for_nodes=3, timeout="120s")
    assert health["status"] == "green"
    es.indices.refresh(index=write)
    assert es.count(index=write, query=query)["count"] == len(copies)
    es.close()
    stack.sample()


def test_down_scale_leaves_nothing_running_and_nothing_listened_beyond_loopback(
    stack: Stack,
) -> None:
    env = {**os.environ, "KZMON_STATE_DIR": str(stack.layout.root.parent)}
    command = [sys.executable, "-m", "kzmon.localstack.stack"]
    status = subprocess.run(
        [*command, "status"], env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count(" running ") == 13
    stack.sample()
    ports = [c.port for c in load_components(stack.layout) if c.port]
    down = subprocess.run(
        [*command, "down"], env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300
    )
    assert down.returncode == 0, down.stderr
    assert down.stdout.startswith("stopped: worker2, worker1, triggerer")
    assert load_components(stack.layout) == []
    survivors = []
    for pid, created in stack.seen.items():
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - created) < 1 and proc.status() != "zombie":
                survivors.append(f"{pid} {' '.join(proc.cmdline()[:3])}")
        except psutil.NoSuchProcess:
            continue
    assert survivors == []
    assert all(port_is_free(port) for port in ports)
    beyond = sorted(lst for lst in stack.listeners if not is_loopback(lst[0]))
    assert beyond == [], beyond
