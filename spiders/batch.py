"""The run folder of one crawl: ``pages.jsonl``, ``errors.jsonl``, ``summary.json``, ``warc/``.

Layout and fields are the contract of docs/records.md §1. Rerunning the same ``run_id``
appends to ``pages.jsonl`` without duplicating a canonical URL already there, so a retried
Airflow task neither loses nor doubles pages.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)


def utc_now() -> str:
    """The current time, ISO 8601 in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_dir_for(data_dir: Path, outlet_id: str, run_id: str) -> Path:
    """``$KZMON_DATA_DIR/crawl/<outlet_id>/<run_id>/``."""
    safe_run_id = run_id.replace("/", "_").replace(":", "-")
    return Path(data_dir) / "crawl" / outlet_id / safe_run_id


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            LOGGER.warning("skipping a truncated line in %s", path)
    return rows


@dataclass
class RunRecorder:
    """Writes one crawl run's records and counts its outcomes."""

    run_dir: Path
    outlet: str
    run_id: str
    mode: str
    started_at: str = field(default_factory=utc_now)
    counts: Counter = field(default_factory=Counter)
    errors_by_kind: Counter = field(default_factory=Counter)
    discovered: set[str] = field(default_factory=set)
    perf: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "warc").mkdir(exist_ok=True)
        self.pages_path = self.run_dir / "pages.jsonl"
        self.errors_path = self.run_dir / "errors.jsonl"
        self.summary_path = self.run_dir / "summary.json"
        self.written = {row["canonical_url"] for row in _read_jsonl(self.pages_path)}
        self.attempt = len(list((self.run_dir / "warc").glob("*.warc.gz"))) + 1
        self.errors_path.write_text("", encoding="utf-8")
        self._pages = open(self.pages_path, "a", encoding="utf-8")  # noqa: SIM115
        self._errors = open(self.errors_path, "a", encoding="utf-8")  # noqa: SIM115

    @property
    def warc_path(self) -> Path:
        """The WARC file of this attempt (a rerun of the same run id starts a new file)."""
        return self.run_dir / "warc" / f"{self.outlet}-{self.attempt:02d}.warc.gz"

    def already_written(self, canonical_url: str) -> bool:
        """True when this run folder already holds the page."""
        return canonical_url in self.written

    def write_page(self, record: dict[str, Any]) -> bool:
        """Append a page record; False (and nothing written) if its canonical URL is there."""
        if record["canonical_url"] in self.written:
            self.counts["duplicate"] += 1
            return False
        self._pages.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._pages.flush()
        self.written.add(record["canonical_url"])
        self.counts["fetched"] += 1
        return True

    def write_error(self, url: str, kind: str, status: int | None = None, detail: str = "") -> None:
        """Append an error record for a URL that could not become a page."""
        record = {
            "url": url,
            "outlet": self.outlet,
            "kind": kind,
            "status": status,
            "detail": detail[:500],
            "at": utc_now(),
        }
        self._errors.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._errors.flush()
        self.errors_by_kind[kind] += 1
        self.counts["failed"] += 1

    def summary(self) -> dict[str, Any]:
        """The run summary (docs/records.md §1) with this attempt's counts."""
        counts = {
            "discovered": len(self.discovered),
            "fetched": self.counts["fetched"],
            "new": self.counts["new"],
            "changed": self.counts["changed"],
            "unchanged": self.counts["unchanged"],
            "failed": self.counts["failed"],
            "errors_by_kind": dict(self.errors_by_kind),
            "not_modified_sources": self.counts["not_modified"],
            "conditional_requests": self.counts["conditional"],
            "out_of_range": self.counts["out_of_range"],
            "malformed_feeds": self.counts["malformed_feeds"],
            "pages_in_run": len(self.written),
        }
        return {
            "outlet": self.outlet,
            "run_id": self.run_id,
            "mode": self.mode,
            "attempt": self.attempt,
            "started_at": self.started_at,
            "finished_at": utc_now(),
            "counts": counts,
            "perf": self.perf,
        }

    def close(self) -> dict[str, Any]:
        """Write summary.json and close the files; returns the summary."""
        self._pages.close()
        self._errors.close()
        summary = self.summary()
        tmp = self.summary_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.summary_path)
        return summary
