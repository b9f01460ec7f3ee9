"""Fixtures of the crawl tests: a real replay server on 127.0.0.1 and fast crawl settings."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spiders.replay.server import ReplayInfo, start_replay, stop_replay
from spiders.run import CrawlResult, crawl

#: Politeness delays off for tests (the settings themselves are tested apart); everything
#: else (robots.txt, retries, timeouts, max size, offsite) stays as in production.
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_START_DELAY": 0, "KZMON_RETRY_BACKOFF_BASE": 0.1}


@pytest.fixture(scope="session")
def replay_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The replay's run folder (its requests.jsonl logs every request)."""
    return tmp_path_factory.mktemp("replay")


@pytest.fixture(scope="session")
def replay(replay_dir: Path, shared_dir: Path) -> Iterator[ReplayInfo]:
    """The replay server for the crawl tests; KZMON_REPLAY_URL points at it."""
    run_dir = replay_dir
    previous_shared = os.environ.get("KZMON_SHARED_DIR")
    os.environ["KZMON_SHARED_DIR"] = str(shared_dir)
    info = start_replay(run_dir)
    previous = os.environ.get("KZMON_REPLAY_URL")
    os.environ["KZMON_REPLAY_URL"] = info.url
    try:
        yield info
    finally:
        stop_replay(run_dir)
        for name, value in (("KZMON_REPLAY_URL", previous), ("KZMON_SHARED_DIR", previous_shared)):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


CrawlJob = tuple[str, dict]


@pytest.fixture(scope="session")
def crawl_many(replay: ReplayInfo) -> Callable[[list[CrawlJob]], list[CrawlResult]]:
    """Run several crawls (each its own subprocess) two at a time; results in job order."""

    def run(jobs: list[CrawlJob]) -> list[CrawlResult]:
        def one(job: CrawlJob) -> CrawlResult:
            outlet_id, kwargs = job
            overrides = {**FAST, **kwargs.pop("overrides", {})}
            return crawl(outlet_id, overrides=overrides, timeout=300, **kwargs)

        with ThreadPoolExecutor(max_workers=3) as pool:
            return list(pool.map(one, jobs))

    return run
