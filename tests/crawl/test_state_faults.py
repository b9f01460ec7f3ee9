"""Faults of the crawl state and the run folder (issue 13, items 5, 6 and 10), each on real
crawl subprocesses: a corrupt state file, a crawl killed mid-run, and run ids that name other
folders."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kzmon.settings import REPO_ROOT
from spiders.batch import run_dir_for, validate_run_id
from spiders.run import crawl, crawl_command
from spiders.state import CrawlState, check_state, state_path
from tests.crawl.conftest import FAST, RealSites

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTLET = "moscowtimes"


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _cli(data_dir: Path, run_id: str, outlet: str = OUTLET) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "spiders", "crawl", outlet, "--run-id", run_id]
    command += ["--data-dir", str(data_dir)]
    for key, value in FAST.items():
        command += ["--set", f"{key}={json.dumps(value)}"]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300, check=False
    )


# ---------------------------------------------------------------------- corrupt state
@pytest.fixture(scope="module")
def crawled(replay, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A data folder after one good crawl: (folder, pages in the state)."""
    data_dir = tmp_path_factory.mktemp("state-good")
    result = crawl(OUTLET, run_id="good", data_dir=data_dir, overrides=FAST, timeout=300)
    assert result.summary["committed"]
    state = CrawlState(state_path(data_dir, OUTLET))
    try:
        return data_dir, state.page_count()
    finally:
        state.close()


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _truncated(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 3)


def _zeroed_page(path: Path) -> None:
    with path.open("r+b") as fh:
        fh.seek(4096)
        fh.write(b"\0" * 4096)


def _foreign_schema(path: Path) -> None:
    path.unlink()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE pages (url TEXT)")  # a SQLite file, but not a crawl state
    db.commit()
    db.close()


def _a_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize(
    "corrupt", [_garbage, _truncated, _zeroed_page, _foreign_schema, _a_folder]
)
def test_a_corrupt_state_is_moved_aside_rebuilt_and_fails_loudly(
    crawled, corrupt, tmp_path: Path
) -> None:
    good, pages = crawled
    data_dir = tmp_path / "data"
    shutil.copytree(good, data_dir)
    path = state_path(data_dir, OUTLET)
    corrupt(path)
    result = _cli(data_dir, "after-corruption")
    assert result.returncode == 3, result.stderr[-2000:]
    assert "was corrupt" in result.stderr and "moved it to" in result.stderr
    assert f"rebuilt {pages} pages" in result.stderr
    asides = path.parent.glob(f"{path.name}.corrupt-*")
    [aside] = [p for p in asides if not p.name.endswith(("-wal", "-shm"))]
    assert check_state(path) is None
    state = CrawlState(path)
    try:
        assert state.page_count() == pages  # from the run folders
    finally:
        state.close()
    assert aside.exists()


def test_the_run_after_a_rebuild_goes_on_without_refetching(crawled, tmp_path: Path) -> None:
    good, pages = crawled
    data_dir = tmp_path / "data"
    shutil.copytree(good, data_dir)
    _garbage(state_path(data_dir, OUTLET))
    assert _cli(data_dir, "rebuild").returncode == 3
    retry = _cli(data_dir, "rebuild")
    assert retry.returncode == 0, retry.stderr[-2000:]
    summary = json.loads((run_dir_for(data_dir, OUTLET, "rebuild") / "summary.json").read_text())
    assert summary["counts"]["new"] == 0 and summary["counts"]["unchanged"] >= pages


# ---------------------------------------------------------------------- killed crawls
@pytest.fixture(scope="module")
def reference(real_sites: RealSites, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """What an uninterrupted first run of azattyq_ru fetches."""
    result = real_sites.crawl(
        "azattyq_ru", run_id="reference", data_dir=tmp_path_factory.mktemp("reference")
    )
    return {p["canonical_url"] for p in _lines(result.pages_path)}


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_pages_of_a_killed_crawl_reach_a_later_run(
    real_sites: RealSites, reference: set[str], how: signal.Signals, tmp_path: Path
) -> None:
    command = crawl_command(
        "azattyq_ru",
        run_id="killed",
        mode="incremental",
        since=None,
        until=None,
        data_dir=tmp_path,
        overrides={**FAST, "DOWNLOAD_DELAY": 0.1},
    )
    pages = run_dir_for(tmp_path, "azattyq_ru", "killed") / "pages.jsonl"
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while len(_lines(pages)) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        process.send_signal(how)
        assert process.wait(timeout=120) != 0
    finally:
        if process.poll() is None:
            process.kill()
    killed = {p["canonical_url"] for p in _lines(pages)}
    assert 20 <= len(killed) < len(reference)
    later = real_sites.crawl("azattyq_ru", run_id="later", data_dir=tmp_path)
    refetched = {p["canonical_url"] for p in _lines(later.pages_path)}
    assert killed <= refetched  # nothing stranded in the killed run's folder
    assert refetched == reference
    state = CrawlState(state_path(tmp_path, "azattyq_ru"))
    try:
        assert state.page_count() == len(reference) and not state.stranded("next")
    finally:
        state.close()


# ---------------------------------------------------------------------- run ids
BAD_RUN_IDS = [
    ".",
    "..",
    "../x",
    "a/../../b",
    "/tmp/x",
    "a\\b",
    "",
    " ",
    "-rf",
    ".hidden",
    "a\x00b",
    "x" * 300,
    "a b",
    "ü",
]


@pytest.mark.parametrize("run_id", BAD_RUN_IDS)
def test_run_ids_that_name_other_folders_are_refused(run_id: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid run id"):
        crawl(OUTLET, run_id=run_id, data_dir=tmp_path / "data")
    with pytest.raises(ValueError):
        run_dir_for(tmp_path / "data", OUTLET, run_id)
    assert not (tmp_path / "data").exists()  # nothing written anywhere


def test_the_command_line_refuses_them_too(tmp_path: Path) -> None:
    result = _cli(tmp_path / "data", "..")
    assert result.returncode == 2 and "invalid run id" in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "run_id", ["scheduled__2026-11-21T04:00:00+00:00", "manual__2026-11-21T04_00_00", "bf-2011"]
)
def test_airflow_run_ids_are_accepted(run_id: str, tmp_path: Path) -> None:
    assert validate_run_id(run_id) == run_id
    folder = run_dir_for(tmp_path, OUTLET, run_id)
    assert folder.parent == tmp_path / "crawl" / OUTLET and ":" not in folder.name
