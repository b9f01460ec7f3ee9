"""Production mode under the real scheduler: the stack `make up` starts, driven through REST,
watched in a real browser, then stopped with nothing left behind.

One stack for the whole module (start-up costs about a minute): the same `start_stack` that
`make up` calls, in a temporary folder, with its own PostgreSQL cluster, Elasticsearch node,
SMTP server, replay and the four Airflow components. A watcher samples every process of the
stack and its listening sockets the whole time, so the last test can assert that nothing
listened beyond loopback and that no process outlived `make down`.

The tests run in file order and build on each other (as a person would use the stack).
Screenshots go to ``$KZMON_SCREENSHOT_DIR`` (default ``.state/screenshots/<time>``); the path
is printed at the end of the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from kzmon.localstack.airflow_api import AirflowApi
from kzmon.localstack.listeners import is_loopback, owns_listener, port_is_free
from kzmon.localstack.stack import (
    StackLayout,
    StackOptions,
    load_components,
    start_stack,
    stop_stack,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTLET_DAG = "kzmon_outlet_jamestown"  # Jund al-Khilafah coverage: matches a starter watchlist
RUN_TIMEOUT_S = 900
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Watcher:
    """Samples the stack's process trees: every PID seen and every listening socket."""

    layout: StackLayout
    seen: dict[int, float] = field(default_factory=dict)
    listeners: set[tuple[str, int, str]] = field(default_factory=set)
    max_executor_workers: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.5)

    def sample(self) -> None:
        workers = 0
        for component in load_components(self.layout):
            try:
                root = psutil.Process(component.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for proc in tree:
                try:
                    self.seen.setdefault(proc.pid, proc.create_time())
                    title = " ".join(proc.cmdline())
                    if component.name == "scheduler" and proc.ppid() == component.pid:
                        workers += title.startswith("airflow worker -- LocalExecutor")
                    for conn in proc.net_connections(kind="inet"):
                        if conn.status == psutil.CONN_LISTEN:
                            self.listeners.add((conn.laddr.ip, conn.laddr.port, component.name))
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
        self.max_executor_workers = max(self.max_executor_workers, workers)

    def survivors(self) -> list[str]:
        alive = []
        for pid, created in self.seen.items():
            try:
                proc = psutil.Process(pid)
                if abs(proc.create_time() - created) < 1 and proc.status() != "zombie":
                    alive.append(f"{pid} {' '.join(proc.cmdline()[:3])}")
            except psutil.NoSuchProcess:
                continue
        return alive


@dataclass
class Stack:
    layout: StackLayout
    summary: dict
    api: AirflowApi
    watcher: Watcher
    screenshots: Path
    triggered: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="kzmon-prod-"))
    root.chmod(0o755)  # PostgreSQL and Elasticsearch run as `nobody` when we are root
    layout = StackLayout.under(root)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    shots = Path(
        os.environ.get("KZMON_SCREENSHOT_DIR") or REPO_ROOT / ".state" / "screenshots" / stamp
    )
    shots.mkdir(parents=True, exist_ok=True)
    watcher = Watcher(layout)
    watcher.start()
    try:
        summary = start_stack(layout, StackOptions())
        yield Stack(layout, summary, AirflowApi(summary["airflow_url"]), watcher, shots)
    finally:
        stop_stack(layout)
        watcher.stop()
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"\nproduction-mode screenshots: {shots}")
        if not os.environ.get("KZMON_KEEP_TEST_TMP"):
            shutil.rmtree(root, ignore_errors=True)


def _mails(stack: Stack, kind: str) -> list:
    from kzmon.localstack.smtp_server import read_mailbox

    ops = "ops@kzmon.localhost"
    messages = read_mailbox(stack.layout.mailbox)
    return [m for m in messages if (ops in str(m["To"])) == (kind == "ops")]


def test_make_up_starts_every_component_on_loopback_with_the_dags_active(stack: Stack) -> None:
    summary = stack.summary
    for key in ("airflow_url", "es_url", "mailbox", "smtp", "postgres", "replay_url"):
        assert summary[key], key
    names = [c.name for c in load_components(stack.layout)]
    assert names == [
        "postgres",
        "elasticsearch",
        "smtp",
        "replay",
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
    ]
    for component in load_components(stack.layout):
        assert component.alive(), component.name
        if component.port:
            assert owns_listener(component.pid, component.port), component.name
    health = stack.api.health()
    assert {k: v["status"] for k, v in health.items()} == dict.fromkeys(health, "healthy")
    dags = {d["dag_id"]: d for d in stack.api.dags()}
    assert {"kzmon_alerts", "kzmon_pipeline_health", OUTLET_DAG} <= set(dags)
    assert summary["paused"] == []
    assert not dags["kzmon_alerts"]["is_paused"] and not dags["kzmon_pipeline_health"]["is_paused"]


def test_outlet_dags_triggered_through_the_rest_api_all_at_once_succeed(stack: Stack) -> None:
    """Every outlet DAG triggered through REST at once, while their first scheduled runs (every
    DAG is active from the start) are still going: each run queues behind its DAG's scheduled
    one (max_active_runs=1) and all of them succeed, within the executor's 4 slots."""
    outlets = stack.api.outlet_dag_ids()
    assert len(outlets) >= 7
    for dag_id in outlets:
        run = stack.api.trigger(dag_id)
        assert run["logical_date"] is None  # a manual run: no data interval
        stack.triggered[dag_id] = run["dag_run_id"]
    states = {
        dag_id: stack.api.wait_for_run(dag_id, stack.triggered[dag_id], RUN_TIMEOUT_S)["state"]
        for dag_id in outlets
    }
    assert states == dict.fromkeys(outlets, "success")
    tasks = stack.api.task_instances(OUTLET_DAG, stack.triggered[OUTLET_DAG])
    states = {t["task_id"]: t["state"] for t in tasks}
    assert states == dict.fromkeys(["crawl", "enrich", "index", "record"], "success")
    scheduled = {d: stack.api.runs(d, run_type="scheduled") for d in outlets}
    assert all(runs and runs[0]["state"] == "success" for runs in scheduled.values()), scheduled
    parallelism = int(os.environ.get("KZMON_AIRFLOW_PARALLELISM", "4"))
    assert 0 < stack.watcher.max_executor_workers <= parallelism


def _consumed_runs(stack: Stack, alerts_run_id: str) -> set[str]:
    """The outlet runs whose Asset events an alerts run consumed."""
    quoted = urllib.parse.quote(alerts_run_id, safe="")
    path = f"/api/v2/dags/kzmon_alerts/dagRuns/{quoted}/upstreamAssetEvents"
    return {e.get("source_run_id") for e in stack.api.request("GET", path)["asset_events"]}


def test_alerts_ran_by_themselves_on_the_asset_event_and_mails_arrived(stack: Stack) -> None:
    """Nobody triggers kzmon_alerts: the scheduler runs it when an index task updates the
    articles Asset (it would drop the events if the DAG were paused)."""
    ours = set(stack.triggered.values())
    deadline = time.monotonic() + RUN_TIMEOUT_S
    consumer = None
    while consumer is None and time.monotonic() < deadline:
        for run in stack.api.runs("kzmon_alerts", state="success"):
            if _consumed_runs(stack, run["dag_run_id"]) & ours:
                consumer = run
                break
        else:
            time.sleep(3)
    assert consumer is not None, "no alerts run consumed an Asset event of the REST runs"
    runs = stack.api.runs("kzmon_alerts")
    assert runs and {r["run_type"] for r in runs} == {"asset_triggered"}
    assert "failed" not in {r["state"] for r in runs}
    alerts = _mails(stack, "alert")
    assert alerts, "the replay's relevant articles match starter watchlists: mails expected"
    assert all(re.search(r"new (article|stor)|story grew", str(m["Subject"])) for m in alerts)


def test_a_manual_health_run_succeeds_and_no_false_alarm_was_mailed(stack: Stack) -> None:
    run = stack.api.trigger("kzmon_pipeline_health")
    assert run["logical_date"] is None
    done = stack.api.wait_for_run("kzmon_pipeline_health", run["dag_run_id"], timeout=300)
    assert done["state"] == "success"
    from elasticsearch import Elasticsearch

    es = Elasticsearch(stack.summary["es_url"])
    es.indices.refresh(index="kzmon-ops")
    at = {"gte": done["run_after"], "lte": done["run_after"]}  # the run stands for run_after
    latest = es.search(
        index="kzmon-ops",
        query={"bool": {"filter": [{"term": {"kind": "health"}}, {"range": {"at": at}}]}},
        size=100,
    )["hits"]["hits"]
    assert len(latest) == len(stack.api.outlet_dag_ids())
    statuses = {h["_source"]["outlet"]: h["_source"]["health"]["status"] for h in latest}
    assert set(statuses.values()) == {"ok"}, statuses
    # Every DAG started at once: the first scheduled health run came before any outlet run.
    assert [m["Subject"] for m in _mails(stack, "ops")] == []
    es.close()


def _browser():
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    browser = manager.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
    return manager, browser


def test_the_airflow_ui_shows_the_kzmon_dags_and_the_grid_of_a_finished_run(stack: Stack) -> None:
    """Headless Debian Chromium, as a person would look: the DAG list, then one run's grid."""
    manager, browser = _browser()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(stack.summary["airflow_url"] + "/dags", wait_until="networkidle")
        page.get_by_text(OUTLET_DAG, exact=True).first.wait_for(timeout=60_000)
        text = page.inner_text("body")
        for dag_id in ("kzmon_alerts", "kzmon_outlet_azattyq_kk", "kzmon_backfill"):
            assert dag_id in text
        page.screenshot(path=str(stack.screenshots / "airflow-dags.png"), full_page=True)
        page.get_by_text(OUTLET_DAG, exact=True).first.click()
        page.wait_for_url(f"**/dags/{OUTLET_DAG}**", timeout=30_000)
        run_id = stack.triggered[OUTLET_DAG]
        page.goto(
            f"{stack.summary['airflow_url']}/dags/{OUTLET_DAG}/runs/"
            f"{urllib.parse.quote(run_id, safe='')}",
            wait_until="networkidle",
        )
        page.get_by_text(run_id).first.wait_for(timeout=60_000)
        for task_id in ("crawl", "enrich", "index", "record"):
            page.get_by_text(task_id, exact=True).first.wait_for(timeout=30_000)
        page.get_by_text("Success").first.wait_for(timeout=30_000)
        page.screenshot(path=str(stack.screenshots / "airflow-run-grid.png"))
    finally:
        browser.close()
        manager.stop()
    assert (stack.screenshots / "airflow-run-grid.png").stat().st_size > 10_000


_LAYOUT_PROBE = """() => {
  const vw = document.documentElement.clientWidth;
  const links = [...document.querySelectorAll('a[href]')].map(a => {
    const r = a.getBoundingClientRect(), s = getComputedStyle(a);
    const line = a.getClientRects()[0] || r;  // a wrapped link: probe its first line box
    const hit = document.elementFromPoint(
      Math.min(line.left + line.width / 2, vw - 1), line.top + line.height / 2);
    return {text: a.innerText.trim(), href: a.getAttribute('href'), w: r.width, h: r.height,
            left: r.left, right: r.right, hidden: s.visibility !== 'visible' || s.opacity === '0',
            covered: !(hit && (hit === a || a.contains(hit)))};
  });
  const wide = [...document.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > vw + 1)
    .map(e => e.tagName + ': ' + (e.innerText || '').slice(0, 60));
  return {vw, scrollWidth: document.documentElement.scrollWidth, links, wide};
}"""


def _check_mail_layout(browser, html: str, shot: Path) -> int:
    """Every link of the mail visible, on screen and uncovered; nothing wider than the view."""
    checked = 0
    for width in (375, 1024):
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.set_content(html, wait_until="load")
        probe = page.evaluate(_LAYOUT_PROBE)
        assert probe["scrollWidth"] <= probe["vw"], (width, probe["wide"][:5])
        assert probe["wide"] == [], (width, probe["wide"][:5])
        assert probe["links"], "an alert mail without links"
        for link in probe["links"]:
            assert link["text"], link
            assert link["w"] > 0 and link["h"] > 0 and not link["hidden"], link
            assert link["left"] >= 0 and link["right"] <= probe["vw"] + 1, (width, link)
        for index in range(len(probe["links"])):
            handle = page.locator("a[href]").nth(index)
            handle.scroll_into_view_if_needed()
            assert handle.is_visible()
            box = page.evaluate(_LAYOUT_PROBE)["links"][index]
            assert not box["covered"], (width, box)
        checked += len(probe["links"])
        page.screenshot(path=str(shot.with_name(f"{shot.stem}-{width}px.png")), full_page=True)
        page.close()
    return checked


def _hostile_mail_html() -> str:
    """An alert mail whose article has an unbreakable 400-character title and URL."""
    from kzmon.alerts.render import build_entry, build_message
    from kzmon.alerts.watchlists import load_watchlists

    watchlist = load_watchlists().watchlists[0]
    long_word = "Жаңаөзен" * 50
    hit = {
        "doc_id": "hostile",
        "title": f"{long_word} attack",
        "url": "https://example.org/" + "a" * 400,
        "outlet": "rferl",
        "published_at": "2026-01-01T00:00:00Z",
        "text": long_word + " " + "word " * 100,
        "highlight": {"text": [f"\x02{long_word}\x03 again"]},
    }
    message = build_message(
        watchlist,
        [build_entry([hit], watchlist)],
        mail_from="a@b.c",
        discover_url="https://kibana.example/app/discover#/" + "q" * 300,
        now=datetime.now(UTC),
    )
    return message.get_body(preferencelist=("html",)).get_content()


def test_alert_mails_render_in_a_browser_with_every_title_link_visible(stack: Stack) -> None:
    """The mails the scheduler sent (and one with hostile, unbreakable text), as a mail
    client would show them, on a phone-sized and a desktop-sized view."""
    alerts = _mails(stack, "alert")
    assert alerts
    manager, browser = _browser()
    try:
        for number, message in enumerate(alerts[:3], start=1):
            html = message.get_body(preferencelist=("html",)).get_content()
            shot = stack.screenshots / f"alert-mail-{number}.png"
            assert _check_mail_layout(browser, html, shot) >= 2
        _check_mail_layout(browser, _hostile_mail_html(), stack.screenshots / "alert-hostile.png")
    finally:
        browser.close()
        manager.stop()


def _make(stack: Stack, action: str) -> subprocess.CompletedProcess:
    """`make status` / `make down` as a person types them (the stack's state dir)."""
    env = {**os.environ, "KZMON_STATE_DIR": str(stack.layout.root.parent)}
    return subprocess.run(
        [sys.executable, "-m", "kzmon.localstack.stack", action],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
    )


def test_make_down_leaves_nothing_running_and_nothing_listened_beyond_loopback(
    stack: Stack,
) -> None:
    status = _make(stack, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count(" running ") == 8
    assert '"scheduler": "healthy"' in status.stdout
    stack.watcher.sample()
    components = load_components(stack.layout)
    ports = [c.port for c in components if c.port]
    down = _make(stack, "down")
    stack.watcher.stop()
    assert down.returncode == 0, down.stderr
    assert down.stdout.startswith("stopped: triggerer, dag-processor, scheduler, api-server")
    assert len(components) == 8
    assert load_components(stack.layout) == []
    assert _make(stack, "status").returncode == 1
    assert stack.watcher.survivors() == []
    assert all(port_is_free(port) for port in ports)
    beyond = sorted(lst for lst in stack.watcher.listeners if not is_loopback(lst[0]))
    assert beyond == [], beyond
    assert len(stack.watcher.seen) > 20  # the sampler saw the task processes come and go
