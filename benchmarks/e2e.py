"""``make bench-e2e``: the whole pipeline on a generated replay of 1,000 and 10,000 articles.

Starts its own Elasticsearch node (`kzmon.localstack.es_node`, the Maven integ-test-zip), an
aiosmtpd SMTP server and, per run, the replay with ``KZMON_REPLAY_ARTICLES=N``
(`spiders.replay.generated`), then runs the stages through the functions the DAG tasks call
(`kzmon.tasks`): crawl every registry outlet (politeness off: no delay, no AutoThrottle, four
requests per domain; benchmark only), enrich each crawl batch, index it, assign stories, run
the immediate alerts. Each run starts from empty indices (its own index prefix), so all N
articles are new.

Each stage runs in its own subprocess (``python -m benchmarks.e2e stage ...``); its seconds
are the subprocess's wall time and its peak RSS the maximum resident set of the subprocess
and its children (``os.wait4``). The printout has seconds, ms per article and peak RSS per
stage; the last line is one JSON object::

    {"runs": [{"articles": N, "seconds": S, "stages": {...}, "peak_rss_mb": M}, ...],
     "growth": R}

with R the per-article cost (seconds / articles) of the last run over that of the first.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kzmon.settings import REPO_ROOT

LOGGER = logging.getLogger(__name__)

STAGES = ("crawl", "enrich", "index", "stories", "alerts")
#: Politeness off for the benchmark only: no delay, no AutoThrottle, four requests per domain.
NO_POLITENESS = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    "LOG_LEVEL": "WARNING",
}
#: Crawls run side by side (one per core of this 2-core machine; the replay takes the rest).
CRAWL_WORKERS = 2
#: Elasticsearch heap: enough for 10,000 articles and their stories.
HEAP = "1g"


# ---------------------------------------------------------------------- stages (subprocess)
def _crawl_stage(work: Path) -> dict[str, Any]:
    from spiders.registry import load_outlets
    from spiders.run import crawl

    def one(outlet_id: str) -> dict[str, Any]:
        result = crawl(outlet_id, run_id="bench-e2e", overrides=NO_POLITENESS)
        counts = result.summary.get("counts", {})
        return {
            "outlet": outlet_id,
            "pages_path": str(result.pages_path),
            "counts": {k: v for k, v in counts.items() if isinstance(v, int)},
        }

    with ThreadPoolExecutor(CRAWL_WORKERS) as pool:
        outs = list(pool.map(one, [o.id for o in load_outlets()]))
    return {"crawls": outs}


def _enrich_stage(work: Path) -> dict[str, Any]:
    from kzmon import tasks

    crawls = json.loads((work / "crawl.json").read_text())["crawls"]
    return {"enriched": [tasks.enrich(c) for c in crawls]}


def _index_stage(work: Path) -> dict[str, Any]:
    from kzmon import tasks

    enriched = json.loads((work / "enrich.json").read_text())["enriched"]
    return {"indexed": [tasks.index(e, "bench-e2e") for e in enriched]}


def _stories_stage(work: Path) -> dict[str, Any]:
    from kzmon import tasks
    from kzmon.es import get_client
    from kzmon.indexer.names import get_names

    with get_client() as es:  # what the indexer wrote is searchable (the DAG's refresh interval)
        es.indices.refresh(index=get_names().read_alias)
    return tasks.assign_stories()


def _alerts_stage(work: Path) -> dict[str, Any]:
    from kzmon import tasks
    from kzmon.es import get_client
    from kzmon.indexer.names import get_names

    with get_client() as es:
        es.indices.refresh(index=get_names().read_alias)
    return tasks.alerts("immediate")


_STAGE_FUNCTIONS = {
    "crawl": _crawl_stage,
    "enrich": _enrich_stage,
    "index": _index_stage,
    "stories": _stories_stage,
    "alerts": _alerts_stage,
}


def run_stage(name: str, work: Path) -> int:
    """Run one stage in this process; write its output to ``work/<name>.json``."""
    out = _STAGE_FUNCTIONS[name](work)
    (work / f"{name}.json").write_text(json.dumps(out), encoding="utf-8")
    return 0


# ---------------------------------------------------------------------- the driver
def _stop_tree(pid: int) -> None:
    """Terminate a stage process and everything it started, then reap it."""
    import psutil

    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=10)
    for proc in alive:
        proc.kill()


def _timed_stage(name: str, work: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak RSS (MiB, the subprocess and its children) of one stage."""
    command = [sys.executable, "-m", "benchmarks.e2e", "stage", name, str(work)]
    started = time.monotonic()
    with open(work / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            # Interrupted (SIGTERM, Ctrl-C): the stage and its crawls go with the benchmark.
            _stop_tree(proc.pid)
            raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        tail = (work / f"{name}.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"stage {name} failed (exit {proc.returncode}):\n{tail}")
    return seconds, usage.ru_maxrss / 1024


def _verify(env: dict[str, str]) -> dict[str, int]:
    """Articles indexed, and how many carry a story id."""
    from elasticsearch import Elasticsearch

    from kzmon.indexer.names import get_names

    with Elasticsearch(env["ES_URL"]) as es:
        index = get_names(env["KZMON_INDEX_PREFIX"]).read_alias
        es.indices.refresh(index=index)
        total = es.count(index=index)["count"]
        storied = es.count(index=index, query={"exists": {"field": "story_id"}})["count"]
    return {"indexed": total, "with_story": storied}


def run_size(n: int, root: Path, base_env: dict[str, str]) -> dict[str, Any]:
    """One run over a fresh generated replay of ``n`` articles and fresh indices."""
    from spiders.replay.server import start_replay, stop_replay

    work = root / f"run-{n}"
    work.mkdir(parents=True)
    env = {
        **base_env,
        "KZMON_REPLAY_ARTICLES": str(n),
        "KZMON_STATE_DIR": str(work / "state"),
        "KZMON_DATA_DIR": str(work / "data"),
        "KZMON_INDEX_PREFIX": f"bench{n}",
        "KZMON_CRAWL_MAX_PAGES": str(n + 1000),
        "KZMON_CRAWL_MAX_SOURCES": "100000",
    }
    previous = os.environ.get("KZMON_REPLAY_ARTICLES")
    os.environ["KZMON_REPLAY_ARTICLES"] = str(n)  # the replay subprocess inherits it
    try:
        replay = start_replay(work / "replay", no_delay=True)
    finally:
        if previous is None:
            os.environ.pop("KZMON_REPLAY_ARTICLES", None)
        else:
            os.environ["KZMON_REPLAY_ARTICLES"] = previous
    env["KZMON_REPLAY_URL"] = replay.url
    stages: dict[str, dict[str, float]] = {}
    try:
        for name in STAGES:
            seconds, rss = _timed_stage(name, work, env)
            stages[name] = {
                "seconds": round(seconds, 2),
                "ms_per_article": round(1000 * seconds / n, 2),
                "peak_rss_mb": round(rss, 1),
            }
            print(
                f"  {n:>6} articles  {name:<8} {seconds:8.1f} s"
                f"  {1000 * seconds / n:8.1f} ms/article  peak RSS {rss:7.1f} MiB"
            )
    finally:
        stop_replay(work / "replay")
    checks = _verify(env)
    crawls = json.loads((work / "crawl.json").read_text())["crawls"]
    crawled = sum(c["counts"].get("fetched", 0) for c in crawls)
    total = sum(s["seconds"] for s in stages.values())
    print(
        f"  {n:>6} articles  total    {total:8.1f} s  {1000 * total / n:8.1f} ms/article"
        f"  (pages fetched {crawled}, indexed {checks['indexed']},"
        f" with a story {checks['with_story']})"
    )
    return {
        "articles": n,
        "seconds": round(total, 2),
        "stages": stages,
        "peak_rss_mb": max(s["peak_rss_mb"] for s in stages.values()),
        "indexed": checks["indexed"],
        "with_story": checks["with_story"],
    }


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """Turn SIGTERM into SystemExit so that cleanup runs."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Start ES and SMTP, run each size, stop them, print the JSON line."""
    from kzmon.localstack.es_node import start_node, stop_node
    from kzmon.localstack.smtp_server import start_server, stop_server

    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # A SIGTERM (kill, a CI timeout) unwinds through the finally below, so the node, the SMTP
    # server and the replay this run started are stopped, not left behind.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.stdout.reconfigure(line_buffering=True)
    root = Path(tempfile.mkdtemp(prefix="kzmon-bench-e2e-"))
    root.chmod(0o755)
    runs: list[dict[str, Any]] = []
    try:
        es = start_node(root / "es", heap=HEAP)
        smtp = start_server(root / "smtp", root / "smtp" / "mailbox")
        base_env = {
            **os.environ,
            "ES_URL": es.url,
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
        }
        print(f"bench-e2e: Elasticsearch {es.url}, SMTP {smtp.host}:{smtp.port}")
        for n in args.sizes:
            runs.append(run_size(n, root, base_env))
    finally:
        stop_server(root / "smtp")
        stop_node(root / "es")
        shutil.rmtree(root, ignore_errors=True)
    first, last = runs[0], runs[-1]
    growth = (last["seconds"] / last["articles"]) / (first["seconds"] / first["articles"])
    print(json.dumps({"runs": runs, "growth": round(growth, 3)}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "stage":
        logging.basicConfig(level=logging.WARNING)
        raise SystemExit(run_stage(sys.argv[2], Path(sys.argv[3])))
    raise SystemExit(main())
