"""The frontier of one crawl run: every discovered article URL and the outcome it ended with.

A SQLite file in the run folder (``frontier.sqlite``, new for each attempt) instead of Scrapy
`Request` objects in memory: discovery streams candidates into it (one row per canonical URL,
keeping the best date any source gave), `finalize` settles what can be settled without a
request (backfill ranges, mass stamps, undated entries), `pending` hands the rest back newest
first, and every row ends with an ``outcome``. So memory stays bounded whatever the archive
size, the per-run cap takes the newest pages, and the summary reconciles
``discovered == sum(outcomes)`` (issue 13, item 8).

Outcomes: ``fetched``, ``unchanged``, ``duplicate``, ``out_of_range``, ``undated``,
``capped``, ``time_limit``, ``interrupted``, or the kind of the error that stopped the URL
(``http_status``, ``timeout``, ``offsite_redirect``, ``private_redirect``, ``redirect_loop``,
``url_too_long``, ...; see docs/crawl.md).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from spiders.dating import DATE_RANKS, MASS_STAMP_MIN_URLS

LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE urls (
    canonical TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    via TEXT NOT NULL,
    source TEXT,
    title TEXT,
    date TEXT,
    date_source TEXT,
    date_rank INTEGER NOT NULL DEFAULT 99,
    lastmod TEXT,
    seq INTEGER NOT NULL,
    released INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    detail TEXT
);
CREATE INDEX urls_lastmod ON urls (lastmod);
"""
_INSERT = """
INSERT OR IGNORE INTO urls
    (canonical, url, via, source, title, date, date_source, date_rank, lastmod, seq)
VALUES (:canonical, :url, :via, :source, :title, :date, :date_source, :date_rank, :lastmod, :seq)
"""
_MERGE = """
UPDATE urls SET
    date = CASE WHEN :date_rank < date_rank THEN :date ELSE date END,
    date_source = CASE WHEN :date_rank < date_rank THEN :date_source ELSE date_source END,
    date_rank = MIN(:date_rank, date_rank),
    title = COALESCE(title, :title),
    lastmod = COALESCE(lastmod, :lastmod)
WHERE canonical = :canonical
"""
#: Rows whose outcome the summary does not count as a failure of the crawl.
SETTLED = frozenset(
    {
        "fetched",
        "unchanged",
        "duplicate",
        "out_of_range",
        "undated",
        "capped",
        "time_limit",
        "interrupted",
    }
)
#: Commit outcome updates after this many (the file is scratch: a crash loses nothing needed).
_COMMIT_EVERY = 200


@dataclass(frozen=True)
class Candidate:
    """An article URL as one discovery source gave it."""

    canonical: str
    url: str
    via: str
    source: str | None = None
    title: str | None = None
    date: str | None = None
    date_source: str | None = None
    lastmod: str | None = None
    outcome: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Row:
    """A frontier row handed back for fetching."""

    canonical: str
    url: str
    via: str
    title: str | None
    date: str | None
    date_source: str | None
    lastmod: str | None


class Frontier:
    """The per-run frontier file (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        for leftover in (self.path, *self._sidecars()):
            leftover.unlink(missing_ok=True)  # each attempt starts its own frontier
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.executescript(_SCHEMA)
        self._db.execute("BEGIN")
        self._seq = 0
        self._uncommitted = 0
        self._in_document = False

    def _sidecars(self) -> list[Path]:
        return [self.path.with_name(self.path.name + suffix) for suffix in ("-wal", "-shm")]

    # ------------------------------------------------------------------ discovery
    def add(self, candidate: Candidate) -> bool:
        """Insert or merge a candidate; True when the canonical URL is new to this run."""
        self._seq += 1
        values = {
            "canonical": candidate.canonical,
            "url": candidate.url,
            "via": candidate.via,
            "source": candidate.source,
            "title": candidate.title,
            "date": candidate.date,
            "date_source": candidate.date_source,
            "date_rank": DATE_RANKS.get(candidate.date_source or "", 99),
            "lastmod": candidate.lastmod,
            "seq": self._seq,
        }
        if self._db.execute(_INSERT, values).rowcount:
            if candidate.outcome:
                self.settle(candidate.canonical, candidate.outcome, candidate.detail)
            self._tick(1)
            return True
        self._db.execute(_MERGE, values)  # listed again: keep the better date
        self._tick(1)
        return False

    def savepoint(self) -> None:
        """Start a group of additions that `rollback` can undo (one discovery document)."""
        self._db.execute("SAVEPOINT document")
        self._in_document = True

    def release_savepoint(self) -> None:
        """Keep the additions since `savepoint`."""
        self._db.execute("RELEASE SAVEPOINT document")
        self._in_document = False

    def rollback(self) -> None:
        """Undo the additions since `savepoint` (a refused document adds nothing)."""
        self._db.execute("ROLLBACK TO SAVEPOINT document")
        self._db.execute("RELEASE SAVEPOINT document")
        self._in_document = False

    def contains(self, canonical: str) -> bool:
        """True when the URL is in the frontier."""
        row = self._db.execute("SELECT 1 FROM urls WHERE canonical = ?", (canonical,))
        return row.fetchone() is not None

    # ------------------------------------------------------------------ settling
    def finalize_backfill(
        self,
        since: date,
        until: date,
        *,
        known_stamps: set[str] | frozenset[str] = frozenset(),
    ) -> dict[str, int]:
        """Settle backfill rows: mass stamps undated, out-of-range and (policy) undated rows.

        Returns the mass stamps found (lastmod -> rows sharing it, `MASS_STAMP_MIN_URLS` or
        more).
        A lastmod is the last modification, so a page last modified before ``since`` was
        published before it too: such rows are out of range even when their stamp is a mass
        stamp. What happens to the rows left undated is the spider's policy (it also knows
        the dates earlier runs read on pages).
        """
        stamps = dict(
            self._db.execute(
                "SELECT lastmod, COUNT(*) FROM urls WHERE lastmod IS NOT NULL GROUP BY lastmod"
                " HAVING COUNT(*) >= ?",
                (MASS_STAMP_MIN_URLS,),
            ).fetchall()
        )
        marked = list(set(stamps) | set(known_stamps))
        for start in range(0, len(marked), 500):
            chunk = marked[start : start + 500]
            self._db.execute(
                "UPDATE urls SET date = NULL, date_source = 'mass_stamp', date_rank = 99"
                f" WHERE date_source = 'lastmod' AND lastmod IN ({','.join('?' * len(chunk))})",
                chunk,
            )
        low = since.isoformat()
        high = (until + timedelta(days=1)).isoformat()
        self._db.execute(
            "UPDATE urls SET outcome = 'out_of_range', detail = 'dated ' || date_source ||"
            " ' ' || substr(date, 1, 10) WHERE outcome IS NULL AND date IS NOT NULL"
            " AND (date < ? OR date >= ?)",
            (low, high),
        )
        self._db.execute(
            "UPDATE urls SET outcome = 'out_of_range', detail = 'last modified '"
            " || substr(lastmod, 1, 10) || ', so published before the range'"
            " WHERE outcome IS NULL AND date IS NULL AND lastmod IS NOT NULL AND lastmod < ?",
            (low,),
        )
        self._commit()
        return stamps

    def settle(self, canonical: str, outcome: str, detail: str | None = None) -> None:
        """Give a row its outcome (the first outcome stays: later ones are ignored)."""
        cursor = self._db.execute(
            "UPDATE urls SET outcome = ?, detail = ? WHERE canonical = ? AND outcome IS NULL",
            (outcome, (detail or "")[:500] or None, canonical),
        )
        self._tick(cursor.rowcount)

    def mark_released(self, canonical: str) -> None:
        """A request was made for this row."""
        self._db.execute("UPDATE urls SET released = 1 WHERE canonical = ?", (canonical,))
        self._tick(1)

    def settle_rest(self, outcome: str, detail: str, *, released: bool | None = None) -> int:
        """Give every row still without an outcome this one (optionally only (un)released)."""
        where = "outcome IS NULL"
        if released is not None:
            where += f" AND released = {int(released)}"
        cursor = self._db.execute(
            f"UPDATE urls SET outcome = ?, detail = ? WHERE {where}", (outcome, detail)
        )
        self._commit()
        return cursor.rowcount

    # ------------------------------------------------------------------ handing back
    def pending(self, *, undated_first: bool) -> Iterator[Row]:
        """Rows without an outcome, newest first; undated rows first or last.

        Read through a second connection (WAL snapshot), so outcomes can be written while the
        rows stream out.
        """
        self._commit()
        reader = sqlite3.connect(self.path)
        order = "date IS NOT NULL" if undated_first else "date IS NULL"
        try:
            cursor = reader.execute(
                "SELECT canonical, url, via, title, date, date_source, lastmod FROM urls"
                f" WHERE outcome IS NULL ORDER BY {order}, date DESC, seq"
            )
            while batch := cursor.fetchmany(256):
                for values in batch:
                    yield Row(*values)
        finally:
            reader.close()

    # ------------------------------------------------------------------ results
    def outcome_counts(self) -> dict[str, int]:
        """Rows per outcome (``None`` for rows still open)."""
        self._commit()
        rows = self._db.execute("SELECT outcome, COUNT(*) FROM urls GROUP BY outcome")
        return {str(outcome): count for outcome, count in rows}

    def unfinished_sources(self) -> list[str]:
        """Sources of rows the run left for later (capped, time limit, interrupted)."""
        self._commit()
        rows = self._db.execute(
            "SELECT DISTINCT source FROM urls WHERE source IS NOT NULL"
            " AND outcome IN ('capped', 'time_limit', 'interrupted', 'lost')"
        )
        return [row[0] for row in rows]

    def count(self) -> int:
        """Rows in the frontier (the run's discovered URLs)."""
        return self._db.execute("SELECT COUNT(*) FROM urls").fetchone()[0]

    def outcomes(self) -> dict[str, tuple[str | None, str | None]]:
        """canonical -> (outcome, detail) of every row (tests and small runs)."""
        self._commit()
        rows = self._db.execute("SELECT canonical, outcome, detail FROM urls")
        return {canonical: (outcome, detail) for canonical, outcome, detail in rows}

    def close(self) -> None:
        """Commit and close."""
        self._commit()
        self._db.close()

    def _tick(self, changes: int) -> None:
        self._uncommitted += changes
        if self._uncommitted >= _COMMIT_EVERY and not self._in_document:
            self._commit()

    def _commit(self) -> None:
        if self._in_document:
            return
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._db.execute("BEGIN")
        self._uncommitted = 0


def read_outcomes(path: Path) -> dict[str, tuple[str | None, str | None]]:
    """canonical -> (outcome, detail) from a closed run's ``frontier.sqlite``."""
    db = sqlite3.connect(Path(path))
    try:
        rows = db.execute("SELECT canonical, outcome, detail FROM urls")
        return {canonical: (outcome, detail) for canonical, outcome, detail in rows}
    finally:
        db.close()
