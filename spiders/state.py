"""The crawl-state store: what an outlet's earlier runs fetched, so a rerun fetches only news.

One SQLite file per outlet under ``$KZMON_DATA_DIR/crawl-state/``:

- ``pages``: canonical URL -> URL fetched, content hash, first/last fetch, run id, lastmod
- ``validators``: feed/sitemap URL -> ETag and Last-Modified (for conditional requests)
- ``sitemaps``: sitemap URL -> role, the lastmod its index listed, its watermark (the newest
  entry date read there), so incremental runs read an archive part only when it moved and
  take only what is newer (issue 18)
- ``sitemap_children``: an index's children with role and lastmod (used when the index is 304)
- ``page_dates``: dates learned from pages (undated backfill entries are not fetched twice)
- ``mass_stamps``: lastmods recognised as mass stamps by earlier runs
- ``runs``: every run that opened the state (pid, host, status)
- ``journal``: what a run fetched or learned, **pending** until the run has handed its batch on

Two-phase on purpose (issue 13, item 6): a run's pages, validators and watermarks are written
to the journal and only `commit_run` (called once the run folder's batch is complete) makes
them known. A run that is killed before leaves its pages in the journal; later runs see them
as *stranded* (`stranded`), fetch them again and commit them, so no page is lost because it
was marked fetched by a run whose batch never reached the index.

A file that SQLite cannot read, that fails ``PRAGMA quick_check`` or that lacks the tables
and columns this code needs is corrupt (issue 13, item 5): `open_checked` moves it aside,
rebuilds the pages from the run folders (`rebuild_from_runs`) and raises `CorruptStateError`
with what it did, so the crawl command exits non-zero with a clear message.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kzmon.jsonl import iter_jsonl
from kzmon.localstack.ports import pid_alive

LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    canonical_url TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    first_fetched TEXT NOT NULL,
    last_fetched TEXT NOT NULL,
    run_id TEXT NOT NULL,
    lastmod TEXT
);
CREATE TABLE IF NOT EXISTS validators (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sitemaps (
    url TEXT PRIMARY KEY,
    role TEXT,
    listed_lastmod TEXT,
    watermark TEXT,
    read_at TEXT
);
CREATE TABLE IF NOT EXISTS sitemap_children (
    index_url TEXT NOT NULL,
    child_url TEXT NOT NULL,
    role TEXT NOT NULL,
    lastmod TEXT,
    PRIMARY KEY (index_url, child_url)
);
CREATE TABLE IF NOT EXISTS page_dates (
    canonical_url TEXT PRIMARY KEY,
    published TEXT NOT NULL,
    source TEXT
);
CREATE TABLE IF NOT EXISTS mass_stamps (
    stamp TEXT PRIMARY KEY,
    urls INTEGER NOT NULL,
    seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    mode TEXT,
    pid INTEGER,
    host TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    value TEXT NOT NULL,
    adopted_by TEXT,
    PRIMARY KEY (kind, key)
);
"""
#: Columns this code reads from the tables older versions created (a file without them is
#: not a kzmon crawl state, whatever else it is).
_REQUIRED_COLUMNS = {
    "pages": {"canonical_url", "url", "content_hash", "first_fetched", "last_fetched", "run_id"},
    "validators": {"url", "etag", "last_modified", "fetched_at"},
}
#: A run that started this long ago and never finished is dead even if its host is not ours.
DEAD_AFTER_S = 12 * 3600


class CorruptStateError(RuntimeError):
    """The crawl state was unreadable; it was moved aside and rebuilt (see the message)."""


@dataclass(frozen=True)
class SeenPage:
    """What the state remembers of an article page."""

    canonical_url: str
    content_hash: str
    last_fetched: str
    run_id: str
    lastmod: str | None


@dataclass(frozen=True)
class SitemapMemory:
    """What the state remembers of a sitemap document."""

    url: str
    role: str | None
    listed_lastmod: str | None
    watermark: str | None


@dataclass(frozen=True)
class StrandedPage:
    """A page fetched by a run that never handed its batch on."""

    canonical_url: str
    url: str
    run_id: str
    published: str | None


def state_path(data_dir: Path, outlet_id: str) -> Path:
    """Where an outlet's crawl state lives."""
    return Path(data_dir) / "crawl-state" / f"{outlet_id}.sqlite"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CrawlState:
    """SQLite-backed memory of fetched pages, sources and runs (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Commit and close."""
        self._db.commit()
        self._db.close()

    # ------------------------------------------------------------------ pages
    def page(self, canonical_url: str) -> SeenPage | None:
        """The page as committed runs fetched it, if any."""
        row = self._db.execute(
            "SELECT canonical_url, content_hash, last_fetched, run_id, lastmod FROM pages"
            " WHERE canonical_url = ?",
            (canonical_url,),
        ).fetchone()
        return SeenPage(*row) if row else None

    def record_page(
        self,
        canonical_url: str,
        url: str,
        content_hash: str,
        fetched_at: str,
        run_id: str,
        lastmod: str | None = None,
        published: str | None = None,
    ) -> None:
        """Note a fetched page for this run (pending until `commit_run`)."""
        value = {
            "url": url,
            "content_hash": content_hash,
            "fetched_at": fetched_at,
            "lastmod": lastmod,
            "published": published,
        }
        self._journal("page", canonical_url, run_id, value)

    def page_count(self) -> int:
        """How many article pages the committed state remembers."""
        return self._db.execute("SELECT COUNT(*) FROM pages").fetchone()[0]

    # ------------------------------------------------------------------ sources
    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) last committed for a feed or sitemap."""
        row = self._db.execute(
            "SELECT etag, last_modified FROM validators WHERE url = ?", (url,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def record_validators(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        fetched_at: str,
        run_id: str = "",
    ) -> None:
        """Note a source's validators for this run (pending until `commit_run`)."""
        value = {"etag": etag, "last_modified": last_modified, "fetched_at": fetched_at}
        self._journal("validators", url, run_id, value)

    def sitemap(self, url: str) -> SitemapMemory | None:
        """What committed runs remember of a sitemap."""
        row = self._db.execute(
            "SELECT url, role, listed_lastmod, watermark FROM sitemaps WHERE url = ?", (url,)
        ).fetchone()
        return SitemapMemory(*row) if row else None

    def remember_sitemap(
        self,
        url: str,
        run_id: str,
        *,
        role: str,
        listed_lastmod: str | None,
        watermark: str | None,
    ) -> None:
        """Note a sitemap's listed lastmod and watermark for this run (pending)."""
        value = {"role": role, "listed_lastmod": listed_lastmod, "watermark": watermark}
        self._journal("sitemap", url, run_id, value)

    def children(self, index_url: str) -> list[tuple[str, str, str | None]]:
        """(child URL, role, lastmod) of an index as committed runs last read it."""
        rows = self._db.execute(
            "SELECT child_url, role, lastmod FROM sitemap_children WHERE index_url = ?"
            " ORDER BY rowid",
            (index_url,),
        )
        return [tuple(row) for row in rows]

    def remember_children(
        self, index_url: str, run_id: str, children: list[tuple[str, str, str | None]]
    ) -> None:
        """Note an index's children for this run (pending)."""
        self._journal("children", index_url, run_id, [list(child) for child in children])

    # ------------------------------------------------------------------ dates
    def page_date(self, canonical_url: str) -> str | None:
        """The publication date an earlier fetch read on the page, if any."""
        row = self._db.execute(
            "SELECT published FROM page_dates WHERE canonical_url = ?", (canonical_url,)
        ).fetchone()
        return row[0] if row else None

    def record_page_date(self, canonical_url: str, published: str, source: str) -> None:
        """Remember a page's own date (a fact, not progress: written at once)."""
        self._db.execute(
            "INSERT OR REPLACE INTO page_dates VALUES (?, ?, ?)",
            (canonical_url, published, source),
        )
        self._db.commit()

    def mass_stamps(self) -> set[str]:
        """Lastmods earlier runs recognised as mass stamps."""
        return {row[0] for row in self._db.execute("SELECT stamp FROM mass_stamps")}

    def record_mass_stamps(self, stamps: dict[str, int]) -> None:
        """Remember mass stamps (stamp -> URLs sharing it)."""
        now = _now()
        self._db.executemany(
            "INSERT INTO mass_stamps VALUES (?, ?, ?) ON CONFLICT (stamp) DO UPDATE"
            " SET urls = MAX(urls, excluded.urls), seen_at = excluded.seen_at",
            [(stamp, urls, now) for stamp, urls in stamps.items()],
        )
        self._db.commit()

    # ------------------------------------------------------------------ runs
    def begin_run(self, run_id: str, mode: str) -> None:
        """Register a run that is starting in this process."""
        self._db.execute(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, NULL, 'running')",
            (run_id, mode, os.getpid(), socket.gethostname(), _now()),
        )
        self._db.commit()

    def end_run(self, run_id: str, status: str) -> None:
        """Mark a run finished without committing it (``interrupted``, ``failed``)."""
        self._db.execute(
            "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?",
            (_now(), status, run_id),
        )
        self._db.commit()

    def stranded(self, run_id: str) -> list[StrandedPage]:
        """Pages of dead or unfinished runs other than ``run_id``, not yet committed."""
        dead = self._dead_runs(exclude=run_id)
        rows = self._db.execute(
            "SELECT key, run_id, value FROM journal WHERE kind = 'page' AND run_id != ?",
            (run_id,),
        )
        out = []
        for key, owner, value in rows:
            if owner in dead:
                fields = json.loads(value)
                out.append(StrandedPage(key, fields["url"], owner, fields.get("published")))
        return out

    def adopt(self, canonical_urls: list[str], run_id: str) -> None:
        """This run takes over stranded pages (their journal rows go when it commits)."""
        self._db.executemany(
            "UPDATE journal SET adopted_by = ? WHERE kind = 'page' AND key = ?",
            [(run_id, key) for key in canonical_urls],
        )
        self._db.commit()

    def commit_run(self, run_id: str) -> dict[str, int]:
        """Make a finished run's pages, validators and watermarks known (one transaction).

        Also drops the journal rows of pages this run adopted (it fetched them again or
        recorded why not) and the source notes of dead runs (their lastmods and validators
        described documents whose entries were never all handled).
        """
        applied: dict[str, int] = {}
        with self._db:
            rows = self._db.execute(
                "SELECT kind, key, value FROM journal WHERE run_id = ?", (run_id,)
            ).fetchall()
            for kind, key, value in rows:
                self._apply(kind, key, json.loads(value), run_id)
                applied[kind] = applied.get(kind, 0) + 1
            self._db.execute("DELETE FROM journal WHERE run_id = ?", (run_id,))
            self._db.execute("DELETE FROM journal WHERE adopted_by = ?", (run_id,))
            dead = self._dead_runs(exclude=run_id)
            self._db.executemany(
                "DELETE FROM journal WHERE kind != 'page' AND run_id = ?",
                [(owner,) for owner in dead],
            )
            self._db.execute(
                "UPDATE runs SET finished_at = ?, status = 'committed' WHERE run_id = ?",
                (_now(), run_id),
            )
        return applied

    def forget_sources(self, run_id: str, urls: list[str]) -> None:
        """Drop this run's validators and watermarks of these sources (it left some of their
        URLs for later runs, which must read the sources again to find them)."""
        self._db.executemany(
            "DELETE FROM journal WHERE run_id = ? AND kind IN ('validators', 'sitemap')"
            " AND key = ?",
            [(run_id, url) for url in urls],
        )
        self._db.commit()

    def _apply(self, kind: str, key: str, value: Any, run_id: str) -> None:
        if kind == "page":
            self._db.execute(
                "INSERT INTO pages VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(canonical_url)"
                " DO UPDATE SET url = excluded.url, content_hash = excluded.content_hash,"
                " last_fetched = excluded.last_fetched, run_id = excluded.run_id,"
                " lastmod = COALESCE(excluded.lastmod, pages.lastmod)",
                (
                    key,
                    value["url"],
                    value["content_hash"],
                    value["fetched_at"],
                    value["fetched_at"],
                    run_id,
                    value.get("lastmod"),
                ),
            )
        elif kind == "validators":
            self._db.execute(
                "INSERT OR REPLACE INTO validators VALUES (?, ?, ?, ?)",
                (key, value["etag"], value["last_modified"], value["fetched_at"]),
            )
        elif kind == "sitemap":
            self._db.execute(
                "INSERT OR REPLACE INTO sitemaps VALUES (?, ?, ?, ?, ?)",
                (key, value["role"], value["listed_lastmod"], value["watermark"], _now()),
            )
        elif kind == "children":
            self._db.execute("DELETE FROM sitemap_children WHERE index_url = ?", (key,))
            self._db.executemany(
                "INSERT OR REPLACE INTO sitemap_children VALUES (?, ?, ?, ?)",
                [(key, child, role, lastmod) for child, role, lastmod in value],
            )

    def _dead_runs(self, *, exclude: str) -> set[str]:
        """Run ids whose process is gone (or that ended without committing)."""
        host = socket.gethostname()
        now = datetime.now(UTC)
        dead = set()
        rows = self._db.execute(
            "SELECT run_id, pid, host, started_at, status FROM runs WHERE run_id != ?",
            (exclude,),
        )
        for run_id, pid, run_host, started_at, status in rows:
            if status == "committed":
                continue
            age = (now - datetime.fromisoformat(started_at)).total_seconds()
            alive = bool(pid) and pid_alive(pid) if run_host == host else age < DEAD_AFTER_S
            if status != "running" or not alive:
                dead.add(run_id)
        known = {row[0] for row in self._db.execute("SELECT run_id FROM runs")}
        orphans = self._db.execute(
            "SELECT DISTINCT run_id FROM journal WHERE run_id != ?", (exclude,)
        )
        dead.update(owner for (owner,) in orphans if owner not in known)
        return dead

    def _journal(self, kind: str, key: str, run_id: str, value: Any) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO journal VALUES (?, ?, ?, ?, NULL)",
            (kind, key, run_id, json.dumps(value, ensure_ascii=False)),
        )
        self._db.commit()


# ---------------------------------------------------------------------- corruption
def check_state(path: Path) -> str | None:
    """Why the state file at ``path`` cannot be used, or None when it can (or is absent)."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        return f"cannot open: {exc}"
    try:
        result = [row[0] for row in db.execute("PRAGMA quick_check")]
        if result != ["ok"]:
            detail = " ".join(" ".join(map(str, result[:3])).split())
            return f"integrity check failed: {detail[:200]}"
        for table, columns in _REQUIRED_COLUMNS.items():
            present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if present and not columns <= present:
                return f"table {table} lacks columns {sorted(columns - present)}"
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        db.close()
    return None


def open_checked(path: Path, data_dir: Path, outlet_id: str) -> CrawlState:
    """Open the state; if it is corrupt, move it aside, rebuild it and raise.

    The exception's message says what was wrong, where the old file went and what was
    rebuilt; the rebuilt file is in place, so the next run goes on from it.
    """
    problem = check_state(path)
    if problem is None:
        return CrawlState(path)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.replace(aside)
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            sidecar.replace(aside.with_name(aside.name + suffix))
    state = CrawlState(path)
    try:
        rebuilt = rebuild_from_runs(state, data_dir, outlet_id)
    finally:
        state.close()
    LOGGER.error("corrupt crawl state %s (%s): moved to %s", path, problem, aside)
    raise CorruptStateError(
        f"crawl state {path} was corrupt ({problem}); moved it to {aside} and rebuilt"
        f" {rebuilt['pages']} pages from {rebuilt['runs']} run folders"
        f" ({rebuilt['pending']} pages of unfinished runs will be fetched again)."
        " Validators and sitemap watermarks cannot be rebuilt: the next run reads its"
        " sources in full. Run the crawl again."
    )


def _run_folders(data_dir: Path, outlet_id: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    for run_dir in sorted((Path(data_dir) / "crawl" / outlet_id).glob("*/")):
        summary_path = run_dir / "summary.json"
        summary: dict[str, Any] = {}
        if summary_path.exists():
            try:
                summary = json.loads(summary_path.read_text(encoding="utf-8"))
            except ValueError:
                summary = {}
        yield run_dir, summary


def _committed(summary: dict[str, Any]) -> bool:
    if "committed" in summary:
        return bool(summary["committed"])
    return summary.get("perf", {}).get("finish_reason") == "finished"  # before two-phase


def rebuild_from_runs(state: CrawlState, data_dir: Path, outlet_id: str) -> dict[str, int]:
    """Refill the pages of a fresh state from the outlet's run folders.

    Pages of committed runs become known again; pages of runs that never committed go back to
    the journal as stranded, so the next run fetches them again.
    """
    counts = {"runs": 0, "pages": 0, "pending": 0}
    for run_dir, summary in _run_folders(data_dir, outlet_id):
        pages = run_dir / "pages.jsonl"
        if not pages.exists():
            continue
        counts["runs"] += 1
        run_id = summary.get("run_id") or run_dir.name
        committed = _committed(summary)
        if not committed:
            state._db.execute(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, NULL, NULL, ?, ?, 'interrupted')",
                (run_id, summary.get("mode"), _now(), _now()),
            )
        for line in iter_jsonl(pages):
            record = line.value
            if line.error or not isinstance(record, dict) or "canonical_url" not in record:
                continue
            value = {
                "url": record.get("url", record["canonical_url"]),
                "content_hash": record.get("content_hash", ""),
                "fetched_at": record.get("fetched_at", _now()),
                "lastmod": record.get("sitemap_lastmod"),
                "published": record.get("feed_published"),
            }
            if committed:
                state._apply("page", record["canonical_url"], value, run_id)
                counts["pages"] += 1
            else:
                state._journal("page", record["canonical_url"], run_id, value)
                counts["pending"] += 1
    state._db.commit()
    return counts
