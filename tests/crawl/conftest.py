"""Fixtures of the crawl tests: real replay servers on 127.0.0.1 and fast crawl settings.

- ``replay``: the offline replay of every outlet (session).
- ``real_sites``: a second replay that serves the real RFE/RL and Azattyq sitemaps of
  ``../shared/outlets/feeds/rferl-full/`` in place (after an overlay folder the tests write
  modified copies into) with validators, and the ``hostile`` route set (module).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from spiders.replay.routesets import outlets_file
from spiders.replay.server import ReplayInfo, start_replay, stop_replay
from spiders.run import CrawlResult, crawl

#: Politeness delays off for tests (the settings themselves are tested apart); everything
#: else (robots.txt, retries, timeouts, max size, offsite) stays as in production.
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_START_DELAY": 0, "KZMON_RETRY_BACKOFF_BASE": 0.1}
#: The hosts of ../shared/outlets/feeds/rferl-full/ and their outlets.
REAL_HOSTS = {
    "rferl": "www.rferl.org",
    "azattyq_kk": "www.azattyq.org",
    "azattyq_ru": "rus.azattyq.org",
}


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block (crawl subprocesses inherit them)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class RealSites:
    """The replay serving the real sitemaps, its request log folder and the overlay folder."""

    info: ReplayInfo
    run_dir: Path
    overlay: Path
    full: Path

    def crawl(self, outlet_id: str, **kwargs: object) -> CrawlResult:
        """One crawl (a real subprocess) against these sites, politeness delays off."""
        overrides = {**FAST, **kwargs.pop("overrides", {})}  # type: ignore[dict-item]
        return crawl(outlet_id, overrides=overrides, timeout=600, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def real_sites(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[RealSites]:
    """A replay serving ../shared/outlets/feeds/rferl-full (read in place) and `hostile`."""
    full = shared_dir / "outlets" / "feeds" / "rferl-full"
    assert full.is_dir(), f"the real sitemaps are not at {full}"
    run_dir = tmp_path_factory.mktemp("real-sites")
    overlay = run_dir / "overlay"
    for host in REAL_HOSTS.values():
        (overlay / host).mkdir(parents=True)
    with environment(KZMON_SHARED_DIR=str(shared_dir)):
        info = start_replay(
            run_dir, route_sets=["hostile"], static_dirs=[overlay, full], no_delay=True
        )
    extra = str(outlets_file("hostile"))
    try:
        with environment(KZMON_REPLAY_URL=info.url, KZMON_EXTRA_OUTLETS=extra):
            yield RealSites(info, run_dir, overlay, full)
    finally:
        stop_replay(run_dir)


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
