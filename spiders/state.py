"""The crawl-state store: what an outlet's earlier runs fetched, so a rerun fetches only news.

One SQLite file per outlet under ``$KZMON_DATA_DIR/crawl-state/``:

- ``pages``: canonical URL -> URL fetched, content hash, first/last fetch, run id, lastmod
- ``validators``: feed/sitemap URL -> ETag and Last-Modified (for conditional requests)

SQLite because the crawl subprocess writes it while a later task may read it, and a crash
mid-run must not leave a half-written JSON file.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

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
"""


@dataclass(frozen=True)
class SeenPage:
    """What the state remembers of an article page."""

    canonical_url: str
    content_hash: str
    last_fetched: str
    run_id: str
    lastmod: str | None


def state_path(data_dir: Path, outlet_id: str) -> Path:
    """Where an outlet's crawl state lives."""
    return Path(data_dir) / "crawl-state" / f"{outlet_id}.sqlite"


class CrawlState:
    """SQLite-backed memory of fetched pages and feed/sitemap validators."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Commit and close."""
        self._db.commit()
        self._db.close()

    def page(self, canonical_url: str) -> SeenPage | None:
        """The remembered page, if any."""
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
    ) -> None:
        """Remember a fetched page (committed at once: a crash must not lose it)."""
        self._db.execute(
            "INSERT INTO pages VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(canonical_url) DO UPDATE"
            " SET url = excluded.url, content_hash = excluded.content_hash,"
            " last_fetched = excluded.last_fetched, run_id = excluded.run_id,"
            " lastmod = COALESCE(excluded.lastmod, pages.lastmod)",
            (canonical_url, url, content_hash, fetched_at, fetched_at, run_id, lastmod),
        )
        self._db.commit()

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) last seen for a feed or sitemap."""
        row = self._db.execute(
            "SELECT etag, last_modified FROM validators WHERE url = ?", (url,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def record_validators(
        self, url: str, etag: str | None, last_modified: str | None, fetched_at: str
    ) -> None:
        """Remember a feed's or sitemap's validators."""
        self._db.execute(
            "INSERT OR REPLACE INTO validators VALUES (?, ?, ?, ?)",
            (url, etag, last_modified, fetched_at),
        )
        self._db.commit()

    def page_count(self) -> int:
        """How many article pages the state remembers."""
        return self._db.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
