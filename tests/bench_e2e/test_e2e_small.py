"""A small end-to-end run of ``make bench-e2e``'s code (real Elasticsearch, SMTP and replay)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kzmon.settings import REPO_ROOT

N = 40


@pytest.mark.slow
def test_small_run_prints_the_json_line_and_indexes_every_article() -> None:
    """N=40: the JSON line has the agreed shape; every article is indexed with a story id."""
    command = [sys.executable, "-m", "benchmarks.e2e", "--sizes", str(N)]
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200, check=True
    )
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert set(report) == {"runs", "growth"}
    assert report["growth"] == 1.0
    (run,) = report["runs"]
    assert run["articles"] == N
    assert set(run["stages"]) == {"crawl", "enrich", "index", "stories", "alerts"}
    for stage in run["stages"].values():
        assert set(stage) == {"seconds", "ms_per_article", "peak_rss_mb"}
        assert stage["seconds"] > 0 and stage["peak_rss_mb"] > 0
    assert run["seconds"] == pytest.approx(sum(s["seconds"] for s in run["stages"].values()), 0.01)
    assert run["indexed"] == N
    assert run["with_story"] == N
    assert sum(1 for line in lines if line.startswith("{")) == 1
