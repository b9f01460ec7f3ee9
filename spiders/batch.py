"""The run folder of one crawl: ``pages.jsonl``, ``errors.jsonl``, ``summary.json``, ``warc/``.

Layout and fields are the contract of docs/records.md §1. Rerunning the same ``run_id``
appends to ``pages.jsonl`` without duplicating a canonical URL already there, so a retried
Airflow task neither loses nor doubles pages.

Run ids become folder names, so they are validated where they enter (`validate_run_id`):
``.``, ``..``, path separators and anything outside Airflow's run-id alphabet are refused
instead of being mapped to a folder outside the outlet's runs (issue 13, item 10).
"""

from __future__ import annotations

import json
import logging
import re
import resource
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)


def peak_rss_kib() -> int:
    """This process's peak resident memory (KiB).

    ``VmHWM`` from /proc: ``getrusage``'s ``ru_maxrss`` survives ``execve`` on Linux, so a crawl
    process forked from a large one (a pytest or Airflow worker) would report its parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        LOGGER.debug("no /proc/self/status; using getrusage")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def utc_now() -> str:
    """The current time, ISO 8601 in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


#: Airflow's run-id alphabet (its default ``allowed_run_id_pattern``), starting with a letter
#: or digit, so that no run id is ``.``, ``..``, hidden, an option or a path.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.~:+-]{0,199}")
_OUTLET_ID = re.compile(r"[a-z][a-z0-9_]*")


def validate_run_id(run_id: object) -> str:
    """``run_id`` if it is safe as one folder name; `ValueError` otherwise."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ValueError(
            f"invalid run id {run_id!r}: use 1-200 of A-Z a-z 0-9 _ . ~ : + -,"
            " starting with a letter or digit"
        )
    return run_id


def run_dir_for(data_dir: Path, outlet_id: str, run_id: str) -> Path:
    """``$KZMON_DATA_DIR/crawl/<outlet_id>/<run_id>/`` (``:`` becomes ``-`` in the name).

    Raises `ValueError` for a run id or outlet id that could name another folder.
    """
    if not _OUTLET_ID.fullmatch(outlet_id):
        raise ValueError(f"invalid outlet id {outlet_id!r}")
    folder = validate_run_id(run_id).replace(":", "-")
    runs = Path(data_dir) / "crawl" / outlet_id
    run_dir = runs / folder
    if run_dir.resolve().parent != runs.resolve():
        raise ValueError(f"run id {run_id!r} does not name a folder inside {runs}")
    return run_dir


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


#: Error kinds that record a limit the run reached, not a URL that failed.
LIMIT_KINDS = frozenset(
    {"page_cap", "source_cap", "discovery_cap", "sitemap_depth", "run_time_limit"}
)


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
    limits_hit: dict[str, str] = field(default_factory=dict)
    perf: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "warc").mkdir(exist_ok=True)
        self.pages_path = self.run_dir / "pages.jsonl"
        self.errors_path = self.run_dir / "errors.jsonl"
        self.summary_path = self.run_dir / "summary.json"
        self.sources_path = self.run_dir / "sources.jsonl"
        self.frontier_path = self.run_dir / "frontier.sqlite"
        self.written = {row["canonical_url"] for row in _read_jsonl(self.pages_path)}
        self.attempt = len(list((self.run_dir / "warc").glob("*.warc.gz"))) + 1
        self.summary_path.unlink(missing_ok=True)  # a summary is this attempt's, or none
        self.errors_path.write_text("", encoding="utf-8")
        self.sources_path.write_text("", encoding="utf-8")
        self._pages = open(self.pages_path, "a", encoding="utf-8")  # noqa: SIM115
        self._errors = open(self.errors_path, "a", encoding="utf-8")  # noqa: SIM115
        self._sources = open(self.sources_path, "a", encoding="utf-8")  # noqa: SIM115

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
        """Append an error record for a URL that could not become a page (or a limit hit)."""
        record = {
            "url": url[:2100],
            "outlet": self.outlet,
            "kind": kind,
            "status": status,
            "detail": detail[:500],
            "at": utc_now(),
        }
        self._errors.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._errors.flush()
        self.errors_by_kind[kind] += 1
        if kind not in LIMIT_KINDS:
            self.counts["failed"] += 1

    def record_limit(self, name: str, url: str, detail: str) -> None:
        """A cap or limit was reached: an error record of that kind, and `limits_hit`."""
        LOGGER.warning("limit %s reached at %s: %s", name, url, detail)
        if name not in self.limits_hit:
            self.limits_hit[name] = detail
        self.write_error(url, name, None, detail)

    def write_source(self, record: dict[str, Any]) -> None:
        """Append what happened to one discovery document (``sources.jsonl``)."""
        self.counts[f"source_{record['status']}"] += 1
        self._sources.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._sources.flush()

    def summary(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run summary (docs/records.md §1) with this attempt's counts."""
        counts = {
            "discovered": 0,
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
            "sources": {
                key.removeprefix("source_"): value
                for key, value in sorted(self.counts.items())
                if key.startswith("source_")
            },
        }
        counts.update(extra or {})
        return {
            "outlet": self.outlet,
            "run_id": self.run_id,
            "mode": self.mode,
            "attempt": self.attempt,
            "started_at": self.started_at,
            "finished_at": utc_now(),
            "counts": counts,
            "limits_hit": dict(self.limits_hit),
            "perf": self.perf,
        }

    def close(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write summary.json and close the files; returns the summary."""
        self._pages.close()
        self._errors.close()
        self._sources.close()
        summary = self.summary(extra)
        write_summary(self.summary_path, summary)
        return summary


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Write a summary atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
