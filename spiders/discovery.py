"""Discovery: the feeds, sitemaps, listings and archive pages of an outlet, read into the
run's frontier (`Discovery` is the part of `spiders.spider.OutletSpider` that does it).

What a crawl reads depends on the mode and on each sitemap's registry role (docs/crawl.md):

- ``news`` / ``latest``: every incremental run, with their own validators (a 304 on the index
  says nothing about children it lists without lastmod), all entries;
- ``videos``: every incremental run, entries newer than the sitemap's watermark (the newest
  date read there last time; on a first read, the newest minus `incremental_lookback_days`);
- ``archive``: in an incremental run only when the lastmod its index lists moved since the
  last committed run, and then only the entries modified since; a part seen for the first
  time is remembered as a baseline (its entries are history, for a backfill) unless the
  outlet has nothing else that lists recent articles; in a backfill when its lastmod is
  within the range;
- ``sections``: never (section pages are not articles);
- an index: its children get roles from the registry's URL patterns; on a 304 its remembered
  children are used.

Documents are read one at a time (an asyncio lock) and in slices that give the reactor back
(`_YIELD_EVERY`), so a 50 MB sitemap neither blocks downloads into timeouts nor interleaves
with another document's savepoint: a refused document (too large, entities, malformed) adds
nothing to the frontier.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import feedparser
import scrapy
from scrapy.http import Response

from spiders.batch import utc_now
from spiders.canonical import canonicalize
from spiders.crawl_settings import URL_MAX_LENGTH
from spiders.dating import best_date, iso_utc, parse_date, plausible
from spiders.frontier import Candidate
from spiders.registry import ListingSource, SitemapSource
from spiders.sitemaps import (
    ChildSitemap,
    SitemapEntry,
    SitemapReader,
    SitemapRefused,
    classify_child,
    declares_entities,
)

if TYPE_CHECKING:
    from datetime import date

    from spiders.batch import RunRecorder
    from spiders.frontier import Frontier
    from spiders.registry import Outlet
    from spiders.state import CrawlState

LOGGER = logging.getLogger(__name__)

_CONDITIONAL_STATUSES = [304]
#: Error records written per discovery document for links outside the outlet (the rest are
#: counted in the summary's ``links_ignored``).
_OFFSITE_RECORDS_PER_SOURCE = 20
#: Entries read between two yields to the reactor (~10 ms of work on a loaded machine).
_YIELD_EVERY = 500
_VIA = {"news": "news_sitemap", "videos": "video_sitemap"}
_RECENT_ROLES = ("news", "latest")


def _months(since: date, until: date) -> Iterator[tuple[int, int]]:
    year, month = since.year, since.month
    while (year, month) <= (until.year, until.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _feed_entry_date(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed:
        try:
            return datetime(*parsed[:6], tzinfo=UTC)
        except ValueError:
            return None
    return parse_date(entry.get("published") or entry.get("updated"))


class Discovery:
    """Discovery requests and callbacks (mixed into `OutletSpider`, which provides these)."""

    outlet: Outlet
    mode: str
    run_id: str
    since: date | None
    until: date | None
    state: CrawlState
    recorder: RunRecorder
    frontier: Frontier
    links_ignored: Counter
    settings: Any

    def _init_discovery(self) -> None:
        self._sources_seen: set[str] = set()
        self._open_sources: set[int] = set()
        self._tokens = itertools.count(1)
        self._document_lock = asyncio.Lock()

    def _setting(self, name: str, default: int) -> int:
        return self.settings.getint(name, default)

    # ------------------------------------------------------------------ discovery requests
    def _uses(self, source: Any) -> bool:
        return self.mode in source.modes

    def _discovery_requests(self) -> Iterator[scrapy.Request]:
        for feed in filter(self._uses, self.outlet.feeds):
            yield from self._maybe(self._source_request(feed.url, self.parse_feed, kind="feed"))
        for sitemap in filter(self._uses, self.outlet.sitemaps):
            yield from self._maybe(self._top_sitemap(sitemap))
        for listing in filter(self._uses, self.outlet.listings):
            yield from self._maybe(self._listing_request(listing.url, listing, page=1))
        if self.mode == "backfill" and self.since and self.until:
            for archive in filter(self._uses, self.outlet.archives):
                for year, month in _months(self.since, self.until):
                    url = archive.url_template.format(year=year, month=month)
                    yield from self._maybe(
                        self._source_request(
                            url,
                            self.parse_links,
                            kind="archive",
                            conditional=False,
                            meta={"kz_selector": archive.link_selector, "kz_via": "archive"},
                        )
                    )

    @staticmethod
    def _maybe(request: scrapy.Request | None) -> Iterator[scrapy.Request]:
        if request is not None:
            yield request

    def _top_sitemap(self, source: SitemapSource) -> scrapy.Request | None:
        if source.role == "sections":
            self._source_skipped(source.url, "sections", "section pages are not articles")
            return None
        return self._source_request(
            source.url,
            self.parse_sitemap,
            kind="sitemap",
            meta={"kz_role": source.role, "kz_rules": source.child_rules, "kz_depth": 0},
        )

    def _source_request(
        self,
        url: str,
        callback: Any,
        *,
        kind: str,
        conditional: bool = True,
        meta: dict[str, Any] | None = None,
    ) -> scrapy.Request | None:
        """A discovery request (registered as open until its callback or errback ran).

        Incremental runs send the validators of the last committed run; a backfill sends none
        (it must walk documents that did not change to reach old articles behind them).
        """
        if url in self._sources_seen:
            if kind == "sitemap":
                self.recorder.write_error(url, "sitemap_loop", None, "listed twice in this run")
            return None
        if len(url) > URL_MAX_LENGTH:
            self.recorder.write_error(url, "url_too_long", None, f"{len(url)} characters")
            return None
        limit = self._setting("KZMON_MAX_SOURCES", 1000)
        if len(self._sources_seen) >= limit:
            self.recorder.record_limit(
                "discovery_cap", url, f"{limit} discovery documents read; this one was not"
            )
            return None
        self._sources_seen.add(url)
        headers = {}
        if conditional and self.mode == "incremental":
            etag, last_modified = self.state.validators(url)
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        if headers:
            self.recorder.counts["conditional"] += 1
        token = next(self._tokens)
        self._open_sources.add(token)
        request_meta = {
            "handle_httpstatus_list": _CONDITIONAL_STATUSES,
            "kz_kind": kind,
            "kz_token": token,
            "kz_source": url,
            **(meta or {}),
        }
        if kind == "sitemap":
            limit_bytes = self._setting("KZMON_SITEMAP_MAX_BYTES", 50 * 1024 * 1024)
            request_meta["download_maxsize"] = limit_bytes
            request_meta["download_warnsize"] = limit_bytes
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            headers=headers,
            meta=request_meta,
            dont_filter=True,  # our own dedupe (_sources_seen); redirects are guarded
            priority=100,
        )

    def _within_cap(self, items: list, source: str, what: str) -> list:
        """The first `KZMON_SOURCE_MAX_ITEMS` items of a source (the cap recorded if hit)."""
        cap = self._setting("KZMON_SOURCE_MAX_ITEMS", 50000)
        if len(items) <= cap:
            return items
        self.recorder.record_limit("source_cap", source, f"read {cap} of {len(items)} {what}")
        return items[:cap]

    def _source_done(self, meta: dict[str, Any]) -> None:
        self._open_sources.discard(meta.get("kz_token"))

    def _source_skipped(self, url: str, role: str, reason: str) -> None:
        self.recorder.write_source({"url": url, "role": role, "status": "skipped", "why": reason})

    def _not_modified(self, response: Response) -> bool:
        if response.status != 304:
            return False
        self.recorder.counts["not_modified"] += 1
        return True

    def _keep_validators(self, response: Response) -> None:
        """Note a source's validators (incremental runs only: a backfill does not read
        documents the way an incremental run does, so its validators would hide news)."""
        if self.mode != "incremental":
            return
        etag = response.headers.get(b"ETag")
        last_modified = response.headers.get(b"Last-Modified")
        if not etag and not last_modified:
            return
        self.state.record_validators(
            response.meta["kz_source"],
            etag.decode("latin-1") if etag else None,
            last_modified.decode("latin-1") if last_modified else None,
            utc_now(),
            self.run_id,
        )

    # ------------------------------------------------------------------ feeds
    async def parse_feed(self, response: Response) -> list[scrapy.Request]:
        """RSS/Atom: every entry's link is an article candidate (up to the source cap)."""
        try:
            async with self._document_lock:
                self._read_feed(response)
        finally:
            self._source_done(response.meta)
        return []

    def _read_feed(self, response: Response) -> None:
        source = response.meta["kz_source"]
        if self._not_modified(response):
            self.recorder.write_source({"url": source, "role": "feed", "status": "not_modified"})
            return
        if declares_entities(response.body):
            self._refuse_source(
                source,
                "feed",
                "xml_entities",
                response.status,
                "the feed declares entities in a DTD",
            )
            return
        parsed = feedparser.parse(response.body)
        if parsed.bozo:
            LOGGER.warning("malformed feed %s: %s", source, parsed.get("bozo_exception"))
            self.recorder.counts["malformed_feeds"] += 1
        entries = self._within_cap(parsed.entries, source, "the feed's entries")
        stats: Counter = Counter(entries=len(entries))
        for entry in entries:
            link = entry.get("link")
            if not link:
                stats["no_link"] += 1
                continue
            published = plausible(_feed_entry_date(entry))
            self._candidate(
                response.urljoin(link),
                via="feed",
                source=source,
                title=entry.get("title"),
                date=iso_utc(published),
                date_source="feed" if published else None,
                stats=stats,
            )
        self._keep_validators(response)
        self._source_read(source, "feed", stats)

    # ------------------------------------------------------------------ sitemaps
    async def parse_sitemap(self, response: Response) -> list[scrapy.Request]:
        """A sitemap index (children by role) or urlset (article candidates), streamed."""
        try:
            async with self._document_lock:
                return await self._read_sitemap(response)
        finally:
            self._source_done(response.meta)

    async def _read_sitemap(self, response: Response) -> list[scrapy.Request]:
        meta = response.meta
        source, role, depth = meta["kz_source"], meta.get("kz_role", "auto"), meta["kz_depth"]
        if self._not_modified(response):
            self.recorder.write_source({"url": source, "role": role, "status": "not_modified"})
            if role in ("auto", "index"):
                return self._remembered_children(source, meta.get("kz_rules", ()), depth)
            return []
        max_bytes = self._setting("KZMON_SITEMAP_MAX_BYTES", 50 * 1024 * 1024)
        reader = SitemapReader(response.body, max_bytes=max_bytes)
        self.frontier.savepoint()
        try:
            entries = iter(reader)
            first = next(entries, None)
            if reader.kind == "sitemapindex":
                requests = self._read_index(response, reader, first, entries)
            else:
                requests = await self._read_urlset(response, reader, first, entries)
        except SitemapRefused as refused:
            self.frontier.rollback()
            self._refuse_source(source, role, refused.kind, response.status, refused.detail)
            return []
        self.frontier.release_savepoint()
        self._keep_validators(response)
        return requests

    def _refuse_source(
        self, url: str, role: str, kind: str, status: int | None, detail: str
    ) -> None:
        self.recorder.write_error(url, kind, status, detail)
        self.recorder.write_source(
            {"url": url, "role": role, "status": "refused", "kind": kind, "why": detail}
        )

    def _source_read(self, url: str, role: str, stats: Counter, **extra: Any) -> None:
        record = {"url": url, "role": role, "status": "read", **dict(stats), **extra}
        self.recorder.write_source(record)

    def _read_index(
        self,
        response: Response,
        reader: SitemapReader,
        first: ChildSitemap | SitemapEntry | None,
        entries: Iterator[ChildSitemap | SitemapEntry],
    ) -> list[scrapy.Request]:
        meta = response.meta
        source, rules = meta["kz_source"], meta.get("kz_rules", ())
        cap = self._setting("KZMON_SOURCE_MAX_ITEMS", 50000)
        children: list[tuple[str, str, str | None]] = []
        for child in itertools.chain([first] if first else [], entries):
            if not isinstance(child, ChildSitemap):
                continue
            if len(children) >= cap:
                self.recorder.record_limit(
                    "source_cap", source, f"read {cap} child sitemaps; the index has more"
                )
                break
            lastmod = iso_utc(parse_date(child.lastmod))
            children.append((child.loc, classify_child(child.loc, rules), lastmod))
        if self.mode == "incremental":
            self.state.remember_children(source, self.run_id, children)
        self._source_read(source, "index", Counter(children=len(children)))
        return self._child_requests(children, rules, meta["kz_depth"])

    def _remembered_children(self, index_url: str, rules: Any, depth: int) -> list[scrapy.Request]:
        """The index did not change: poll the children that change without it (news, latest,
        videos, listed without lastmod); archive parts are as their unchanged lastmods say."""
        return self._child_requests(self.state.children(index_url), rules, depth)

    def _has_recent_source(self, children: Iterable[tuple[str, str, str | None]]) -> bool:
        """True when something besides archive parts gives this run the recent articles."""
        if any(self._uses(s) for s in (*self.outlet.feeds, *self.outlet.listings)):
            return True
        if any(role in _RECENT_ROLES for _, role, _ in children):
            return True
        return any(s.role in _RECENT_ROLES and self._uses(s) for s in self.outlet.sitemaps)

    def _child_requests(
        self,
        children: list[tuple[str, str, str | None]],
        rules: Any,
        depth: int,
    ) -> list[scrapy.Request]:
        requests = []
        recent = self._has_recent_source(children)
        max_depth = self._setting("KZMON_SITEMAP_MAX_DEPTH", 3)
        for url, role, lastmod in children:
            if not self.outlet.owns_url(url):
                self.recorder.write_error(url, "offsite", None, "child sitemap outside the outlet")
                continue
            if depth + 1 > max_depth:
                self.recorder.record_limit(
                    "sitemap_depth", url, f"sitemap index nested deeper than {max_depth}"
                )
                continue
            why = self._skip_child(url, role, lastmod, recent)
            if why:
                self._source_skipped(url, role, why)
                continue
            meta = {
                "kz_role": role,
                "kz_rules": rules,
                "kz_depth": depth + 1,
                "kz_listed_lastmod": lastmod,
            }
            request = self._source_request(url, self.parse_sitemap, kind="sitemap", meta=meta)
            if request is not None:
                requests.append(request)
        return requests

    def _skip_child(self, url: str, role: str, lastmod: str | None, recent: bool) -> str | None:
        """Why a child sitemap is not read in this run (None: read it)."""
        if role == "sections":
            return "section pages are not articles"
        if self.mode == "backfill":
            if role == "archive" and lastmod and self.since and lastmod < self.since.isoformat():
                return f"last modified {lastmod[:10]}, before the range"
            return None
        if role != "archive":
            return None
        memory = self.state.sitemap(url)
        if memory is None:
            if recent:
                self.state.remember_sitemap(
                    url,
                    self.run_id,
                    role=role,
                    listed_lastmod=lastmod,
                    watermark=lastmod or self._run_start,
                )
                return "first sight of an archive part: its entries are history (backfill)"
            return None
        if lastmod and memory.listed_lastmod == lastmod:
            return "archive part unchanged since the last run"
        return None

    async def _read_urlset(
        self,
        response: Response,
        reader: SitemapReader,
        first: ChildSitemap | SitemapEntry | None,
        entries: Iterator[ChildSitemap | SitemapEntry],
    ) -> list[scrapy.Request]:
        meta = response.meta
        source, role = meta["kz_source"], meta.get("kz_role", "auto")
        role = "latest" if role in ("auto", "index") else role
        watermark, first_read = self._watermark(source, role, meta.get("kz_listed_lastmod"))
        if first_read and role == "videos":
            watermark = await self._first_read_cutoff(response.body, reader.max_bytes)
        cap = self._setting("KZMON_SOURCE_MAX_ITEMS", 50000)
        stats: Counter = Counter()
        newest: str | None = None
        for entry in itertools.chain([first] if first else [], entries):
            if not isinstance(entry, SitemapEntry):
                continue
            if stats["entries"] >= cap:
                self.recorder.record_limit(
                    "source_cap", source, f"read {cap} entries; the sitemap has more"
                )
                break
            stats["entries"] += 1
            if stats["entries"] % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let downloads and timers run
            date_value, date_source = best_date(
                entry.loc, news=entry.news_date, video=entry.video_date, lastmod=entry.lastmod
            )
            lastmod = iso_utc(plausible(parse_date(entry.lastmod)))
            compared = lastmod if role == "archive" else date_value
            if compared and (newest is None or compared > newest):
                newest = compared
            if watermark is not None and not (compared and compared > watermark):
                stats["older_than_watermark"] += 1
                continue
            self._candidate(
                entry.loc,
                via=_VIA.get(role, "news_sitemap" if entry.news_date else "sitemap"),
                source=source,
                title=entry.news_title or entry.video_title,
                date=date_value,
                date_source=date_source,
                lastmod=lastmod,
                stats=stats,
            )
        if self.mode == "incremental" and role in ("archive", "videos"):
            self.state.remember_sitemap(
                source,
                self.run_id,
                role=role,
                listed_lastmod=meta.get("kz_listed_lastmod"),
                watermark=max(filter(None, (newest, watermark)), default=None),
            )
        self._source_read(source, role, stats, uncompressed_bytes=reader.uncompressed_bytes)
        return []

    def _watermark(self, url: str, role: str, listed: str | None) -> tuple[str | None, bool]:
        """(the date entries must be newer than, first read?) for an incremental read."""
        if self.mode != "incremental" or role not in ("archive", "videos"):
            return None, False
        memory = self.state.sitemap(url)
        if memory is None or memory.watermark is None:
            return None, True
        return memory.watermark, False

    async def _first_read_cutoff(self, body: bytes, max_bytes: int) -> str | None:
        """The newest entry date of a video sitemap minus the lookback (a first pass)."""
        newest = None
        for number, entry in enumerate(SitemapReader(body, max_bytes=max_bytes)):
            if number % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if isinstance(entry, SitemapEntry):
                found, _ = best_date(entry.loc, video=entry.video_date, news=entry.news_date)
                if found and (newest is None or found > newest):
                    newest = found
        if newest is None:
            return None
        lookback = timedelta(days=self.outlet.incremental_lookback_days)
        return iso_utc(parse_date(newest) - lookback)

    # ------------------------------------------------------------------ listings
    def _listing_request(
        self, url: str, listing: ListingSource, page: int
    ) -> scrapy.Request | None:
        """A listing page; the first is conditional (unchanged: nothing new behind it)."""
        meta = {
            "kz_selector": listing.link_selector,
            "kz_listing": listing,
            "kz_page": page,
            "kz_via": "listing",
        }
        return self._source_request(
            url, self.parse_links, kind="listing", conditional=page == 1, meta=meta
        )

    async def parse_links(self, response: Response) -> list[scrapy.Request]:
        """A listing or archive page: article links, then the next page within the limit."""
        try:
            async with self._document_lock:
                return self._read_links(response)
        finally:
            self._source_done(response.meta)

    def _read_links(self, response: Response) -> list[scrapy.Request]:
        meta = response.meta
        source, via = meta["kz_source"], meta["kz_via"]
        if self._not_modified(response):
            self.recorder.write_source({"url": source, "role": via, "status": "not_modified"})
            return []
        hrefs = self._within_cap(response.css(meta["kz_selector"]).getall(), source, "links")
        stats: Counter = Counter(entries=len(hrefs))
        for href in hrefs:
            self._candidate(response.urljoin(href.strip()), via=via, source=source, stats=stats)
        if meta.get("kz_page") == 1:
            self._keep_validators(response)
        self._source_read(source, via, stats)
        return self._next_listing_page(response)

    def _next_listing_page(self, response: Response) -> list[scrapy.Request]:
        listing: ListingSource | None = response.meta.get("kz_listing")
        if listing is None or not listing.next_selector:
            return []
        page = response.meta["kz_page"]
        limit = listing.max_pages or (
            self.outlet.backfill_max_pages
            if self.mode == "backfill"
            else self.outlet.listing_max_pages
        )
        next_href = response.css(listing.next_selector).get()
        if not next_href or page >= limit:
            return []
        request = self._listing_request(response.urljoin(next_href), listing, page + 1)
        return [request] if request is not None else []

    # ------------------------------------------------------------------ candidates
    def _candidate(
        self,
        url: str,
        *,
        via: str,
        source: str,
        stats: Counter,
        title: str | None = None,
        date: str | None = None,
        date_source: str | None = None,
        lastmod: str | None = None,
    ) -> None:
        """Put an article URL into the frontier (or count why it is not one)."""
        canonical = canonicalize(url)
        if not self.outlet.owns_url(canonical):
            self.links_ignored["offsite"] += 1
            stats["offsite"] += 1
            if stats["offsite"] <= _OFFSITE_RECORDS_PER_SOURCE:
                self.recorder.write_error(
                    url, "offsite", None, f"link outside the outlet in {source}"
                )
            return
        if not self.outlet.is_article_url(canonical):
            self.links_ignored["not_article"] += 1
            stats["not_article"] += 1
            return
        if date is None and date_source is None:
            date, date_source = best_date(url)  # a date in the URL, if any
        outcome = detail = None
        if len(url) > URL_MAX_LENGTH:
            outcome, detail = "url_too_long", f"{len(url)} characters (limit {URL_MAX_LENGTH})"
            url = url[:URL_MAX_LENGTH]
        candidate = Candidate(
            canonical, url, via, source, title, date, date_source, lastmod, outcome, detail
        )
        if self.frontier.add(candidate):
            stats["candidates"] += 1
            if outcome:
                self.recorder.write_error(url, outcome, None, detail or "")
        else:
            stats["already_listed"] += 1

    def _adopt_stranded(self) -> None:
        """Pages fetched by runs that died before handing their batch on: fetch them again."""
        stranded = self.state.stranded(self.run_id)
        for page in stranded:
            self.frontier.add(
                Candidate(
                    page.canonical_url,
                    page.url,
                    "stranded",
                    None,
                    None,
                    page.published,
                    "page" if page.published else None,
                )
            )
        if stranded:
            LOGGER.warning("adopting %d pages of unfinished runs", len(stranded))
            self.state.adopt([page.canonical_url for page in stranded], self.run_id)
            self.recorder.counts["stranded_adopted"] += len(stranded)

    def _finalize_discovery(self) -> None:
        if self.mode != "backfill" or not (self.since and self.until):
            return
        stamps = self.frontier.finalize_backfill(
            self.since,
            self.until,
            known_stamps=self.state.mass_stamps(),
        )
        if stamps:
            self.state.record_mass_stamps(stamps)
            LOGGER.info("%d mass lastmod stamps treated as undated", len(stamps))
