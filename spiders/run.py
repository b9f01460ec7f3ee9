"""`crawl()`: run one outlet's crawl in a subprocess and return its run folder.

Scrapy runs on Twisted's reactor, which cannot be restarted inside one process, and Airflow's
``dag.test()`` runs every task in one process; so each crawl is ``python -m spiders crawl ...``
in a child process. Calling `crawl()` twice in one process is therefore safe.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from kzmon.settings import REPO_ROOT, get_settings
from spiders.batch import run_dir_for, validate_run_id
from spiders.crawl_settings import crawl_limits
from spiders.registry import get_outlet

LOGGER = logging.getLogger(__name__)

#: Seconds a crawl subprocess may take beyond its own time limit (KZMON_CRAWL_MAX_SECONDS /
#: KZMON_BACKFILL_MAX_SECONDS, after which it closes itself and records what was left) before
#: it is killed: closing takes seconds; the sum stays inside the Airflow task's timeout.
TIMEOUT_MARGIN_S = 120


@dataclass(frozen=True)
class CrawlResult:
    """Where one crawl wrote its records, and its summary (docs/records.md §1)."""

    run_dir: Path
    pages_path: Path
    errors_path: Path
    summary: dict[str, Any]


def crawl_command(
    outlet_id: str,
    *,
    run_id: str,
    mode: str,
    since: date | None,
    until: date | None,
    data_dir: Path,
    overrides: dict[str, Any] | None = None,
) -> list[str]:
    """The command line of one crawl subprocess."""
    command = [sys.executable, "-m", "spiders", "crawl", outlet_id, "--run-id", run_id]
    command += ["--mode", mode, "--data-dir", str(data_dir)]
    if since:
        command += ["--since", since.isoformat()]
    if until:
        command += ["--until", until.isoformat()]
    for key, value in (overrides or {}).items():
        command += ["--set", f"{key}={json.dumps(value)}"]
    return command


def crawl(
    outlet_id: str,
    *,
    run_id: str,
    mode: str = "incremental",
    since: date | None = None,
    until: date | None = None,
    data_dir: Path | None = None,
    overrides: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> CrawlResult:
    """Crawl one outlet in a subprocess; wait; return the run folder and summary.

    ``overrides`` are Scrapy settings for this crawl only (tests and the benchmark turn the
    politeness delays off with them). Raises `ValueError` for an unknown outlet, mode or an
    unsafe run id, `RuntimeError` when the subprocess fails (a corrupt crawl state included:
    the message says what was moved aside and rebuilt).
    """
    outlet = get_outlet(outlet_id)  # fail fast on an unknown id
    validate_run_id(run_id)
    if mode not in ("incremental", "backfill"):
        raise ValueError(f"mode must be incremental or backfill, not {mode!r}")
    if timeout is None:
        timeout = crawl_limits(mode, outlet).max_seconds + TIMEOUT_MARGIN_S
    data_dir = Path(data_dir or get_settings().data_dir)
    run_dir = run_dir_for(data_dir, outlet_id, run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    command = crawl_command(
        outlet_id,
        run_id=run_id,
        mode=mode,
        since=since,
        until=until,
        data_dir=data_dir,
        overrides=overrides,
    )
    LOGGER.info("crawling %s: %s", outlet_id, " ".join(command))
    with open(run_dir / "crawl.log", "ab") as log:
        result = subprocess.run(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            env=os.environ.copy(),
            cwd=REPO_ROOT,
        )
    summary_path = run_dir / "summary.json"
    if result.returncode != 0 or not summary_path.exists():
        tail = (run_dir / "crawl.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"crawl of {outlet_id} failed (exit {result.returncode}):\n{tail}")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    return CrawlResult(run_dir, run_dir / "pages.jsonl", run_dir / "errors.jsonl", summary)
