"""`OutletSpider`: one generic spider driven by a registry entry (spiders/outlets.yaml).

Discovery goes through the outlet's feeds (feedparser), sitemaps (indexes, news, archive
parts; gzip), paginated listings and dated archives. Every article URL is canonicalised and
checked against the crawl state, so a rerun fetches only what is new or changed; feeds and
sitemaps are fetched with If-None-Match/If-Modified-Since. Each outcome is a page record or
an error record in the run folder (spiders/batch.py), never a crash.
"""

from __future__ import annotations

import hashlib
import logging
import resource
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import feedparser
import scrapy
from dateutil import parser as dateparser
from lxml import etree
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.python.failure import Failure

from spiders.batch import RunRecorder, utc_now
from spiders.canonical import canonicalize
from spiders.registry import ListingSource, Outlet, get_outlet
from spiders.state import CrawlState

LOGGER = logging.getLogger(__name__)

#: Content types accepted as article pages.
HTML_TYPES = ("text/html", "application/xhtml+xml")
#: Earliest date a backfill without `since` goes back to (the analysts' history starts here).
BACKFILL_START = date(2011, 1, 1)
_NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
_CONDITIONAL_STATUSES = [304]


def _parse_date(value: Any) -> datetime | None:
    """A timezone-aware datetime from a feed/sitemap/page date string, or None."""
    if not value:
        return None
    try:
        parsed = dateparser.parse(str(value))
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _feed_entry_date(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed:
        return datetime(*parsed[:6], tzinfo=UTC)
    return _parse_date(entry.get("published") or entry.get("updated"))


def _news_fields(body: bytes) -> dict[str, dict[str, str]]:
    """Google-News fields per loc: {loc: {"title", "publication_date"}}."""
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError:
        return {}
    if root is None:
        return {}
    out: dict[str, dict[str, str]] = {}
    for url in root.iter("{*}url"):
        news = url.find(f"{{{_NEWS_NS}}}news")
        loc = url.findtext("{*}loc")
        if news is None or not loc:
            continue
        out[loc.strip()] = {
            "title": (news.findtext(f"{{{_NEWS_NS}}}title") or "").strip(),
            "publication_date": (news.findtext(f"{{{_NEWS_NS}}}publication_date") or "").strip(),
        }
    return out


def _months(since: date, until: date) -> Iterator[tuple[int, int]]:
    year, month = since.year, since.month
    while (year, month) <= (until.year, until.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def classify_failure(failure: Failure) -> tuple[str, int | None, str]:
    """(kind, status, detail) of a failed request, in the vocabulary of errors.jsonl."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return "http_status", exc.response.status, f"HTTP {exc.response.status}"
    if isinstance(exc, CannotResolveHostError | DNSLookupError):
        return "dns", None, str(exc)
    if isinstance(exc, DownloadTimeoutError | TimeoutError | TCPTimedOutError):
        return "timeout", None, str(exc) or "timed out"
    if isinstance(exc, DownloadCancelledError):
        return "too_large", None, str(exc)
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text:
            return "robots_denied", None, text
        if "offsite" in text.lower():
            return "offsite", None, text
        return "ignored", None, text
    if isinstance(exc, DownloadConnectionRefusedError | ConnectionRefusedError):
        return "connection", None, str(exc)
    return "download", None, f"{type(exc).__name__}: {exc}"


class OutletSpider(scrapy.Spider):
    """Crawls one outlet of the registry in `incremental` or `backfill` mode."""

    name = "outlet"

    def __init__(
        self,
        outlet_id: str,
        run_dir: str,
        state_path: str,
        run_id: str,
        mode: str = "incremental",
        since: str | None = None,
        until: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in ("incremental", "backfill"):
            raise ValueError(f"unknown mode {mode!r}")
        self.outlet: Outlet = get_outlet(outlet_id)
        self.allowed_domains = list(self.outlet.allowed_domains)
        self.mode = mode
        self.run_id = run_id
        self.since = date.fromisoformat(since) if since else None
        self.until = date.fromisoformat(until) if until else None
        if mode == "backfill":
            self.since = self.since or BACKFILL_START
            self.until = self.until or datetime.now(UTC).date()
        self.state = CrawlState(Path(state_path))
        self.recorder = RunRecorder(Path(run_dir), outlet_id, run_id, mode)
        self._scheduled: set[str] = set()
        self._started = time.monotonic()

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> OutletSpider:
        """Scrapy's factory; also closes the run folder when the crawl ends."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_closed, signal=scrapy.signals.spider_closed)
        return spider

    def _on_closed(self, spider: scrapy.Spider, reason: str) -> None:
        stats = self.crawler.stats
        self.recorder.perf = {
            "elapsed_s": round(time.monotonic() - self._started, 3),
            "responses": stats.get_value("downloader/response_count", 0),
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "finish_reason": reason,
        }
        summary = self.recorder.close()
        self.state.close()
        LOGGER.info("crawl %s finished (%s): %s", self.outlet.id, reason, summary["counts"])

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """The outlet's discovery sources for this mode."""
        for request in self._discovery_requests():
            yield request

    def _uses(self, source: Any) -> bool:
        return self.mode in source.modes

    def _discovery_requests(self) -> Iterator[scrapy.Request]:
        for feed in filter(self._uses, self.outlet.feeds):
            yield self._conditional(feed.url, self.parse_feed, kind="feed")
        for sitemap in filter(self._uses, self.outlet.sitemaps):
            yield self._conditional(sitemap.url, self.parse_sitemap, kind="sitemap")
        for listing in filter(self._uses, self.outlet.listings):
            yield self._listing_request(listing.url, listing, page=1)
        if self.mode == "backfill" and self.since and self.until:
            for archive in filter(self._uses, self.outlet.archives):
                for year, month in _months(self.since, self.until):
                    url = archive.url_template.format(year=year, month=month)
                    yield scrapy.Request(
                        url,
                        callback=self.parse_links,
                        errback=self.on_error,
                        meta={"kz_selector": archive.link_selector, "kz_via": "archive"},
                    )

    # ------------------------------------------------------------------ discovery
    def _conditional(self, url: str, callback: Any, *, kind: str) -> scrapy.Request:
        """A feed/sitemap request carrying the validators of the last fetch.

        Only incremental crawls send them: a backfill must walk documents that have not
        changed since the last incremental run, to reach the old articles behind them.
        """
        etag, last_modified = self.state.validators(url)
        if self.mode != "incremental":
            etag = last_modified = None
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if headers:
            self.recorder.counts["conditional"] += 1
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            headers=headers,
            meta={"handle_httpstatus_list": _CONDITIONAL_STATUSES, "kz_kind": kind},
        )

    def _not_modified(self, response: Response) -> bool:
        """Record validators; True when the server says our copy is current (304)."""
        if response.status == 304:
            self.recorder.counts["not_modified"] += 1
            return True
        etag = response.headers.get(b"ETag")
        last_modified = response.headers.get(b"Last-Modified")
        self.state.record_validators(
            response.url,
            etag.decode("latin-1") if etag else None,
            last_modified.decode("latin-1") if last_modified else None,
            utc_now(),
        )
        return False

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        """RSS/Atom: every entry's link is an article candidate."""
        if self._not_modified(response):
            return
        parsed = feedparser.parse(response.body)
        if parsed.bozo:
            LOGGER.warning("malformed feed %s: %s", response.url, parsed.get("bozo_exception"))
            self.recorder.counts["malformed_feeds"] += 1
        for entry in parsed.entries:
            link = entry.get("link")
            if not link:
                continue
            published = _feed_entry_date(entry)
            yield from self._article(
                response.urljoin(link),
                via="feed",
                title=entry.get("title"),
                published=published,
            )

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """Sitemap index (walk children) or urlset (article candidates)."""
        if self._not_modified(response):
            return
        body = response.body
        if body[:2] == b"\x1f\x8b":
            body = gunzip(body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
        sitemap = Sitemap(body)
        if sitemap.type == "sitemapindex":
            yield from self._sitemap_children(sitemap)
            return
        news = _news_fields(body) if _NEWS_NS.encode() in body else {}
        for entry in sitemap:
            loc = entry.get("loc", "")
            extra = news.get(loc, {})
            when = _parse_date(extra.get("publication_date") or entry.get("lastmod"))
            yield from self._article(
                loc,
                via="news_sitemap" if extra else "sitemap",
                title=extra.get("title"),
                published=when,
                lastmod=entry.get("lastmod"),
            )

    def _sitemap_children(self, index: Sitemap) -> Iterator[scrapy.Request]:
        for child in index:
            loc = child.get("loc")
            if not loc or not self.outlet.owns_url(loc):
                continue
            lastmod = _parse_date(child.get("lastmod"))
            if self.mode == "backfill" and lastmod and self.since and lastmod.date() < self.since:
                continue
            yield self._conditional(loc, self.parse_sitemap, kind="sitemap")

    def _listing_request(self, url: str, listing: ListingSource, page: int) -> scrapy.Request:
        """A listing page; the first is conditional (unchanged: nothing new behind it)."""
        request = (
            self._conditional(url, self.parse_links, kind="listing")
            if page == 1
            else scrapy.Request(url, callback=self.parse_links, errback=self.on_error)
        )
        request.meta.update(
            {
                "kz_selector": listing.link_selector,
                "kz_listing": listing,
                "kz_page": page,
                "kz_via": "listing",
            }
        )
        return request

    def parse_links(self, response: Response) -> Iterator[scrapy.Request]:
        """A listing or archive page: article links, then the next page within the limit."""
        if response.meta.get("kz_kind") == "listing" and self._not_modified(response):
            return
        via = response.meta["kz_via"]
        for href in response.css(response.meta["kz_selector"]).getall():
            yield from self._article(response.urljoin(href.strip()), via=via)
        listing: ListingSource | None = response.meta.get("kz_listing")
        if listing is None or not listing.next_selector:
            return
        page = response.meta["kz_page"]
        limit = listing.max_pages or (
            self.outlet.backfill_max_pages
            if self.mode == "backfill"
            else self.outlet.listing_max_pages
        )
        next_href = response.css(listing.next_selector).get()
        if next_href and page < limit:
            yield self._listing_request(response.urljoin(next_href), listing, page + 1)

    # ------------------------------------------------------------------ articles
    def _in_range(self, when: datetime | None) -> bool:
        if self.mode != "backfill" or when is None:
            return True
        day = when.astimezone(UTC).date()
        return bool(self.since and self.until and self.since <= day <= self.until)

    def _article(
        self,
        url: str,
        *,
        via: str,
        title: str | None = None,
        published: datetime | None = None,
        lastmod: str | None = None,
    ) -> Iterator[scrapy.Request]:
        """Schedule an article candidate unless it is foreign, seen, unchanged or out of range."""
        canonical = canonicalize(url)
        if not self.outlet.owns_url(canonical):
            if canonical not in self._scheduled:
                self._scheduled.add(canonical)
                self.recorder.write_error(url, "offsite", detail="link outside the outlet")
            return
        if not self.outlet.is_article_url(canonical) or canonical in self._scheduled:
            return
        if not self._in_range(published):
            self.recorder.counts["out_of_range"] += 1
            return
        self._scheduled.add(canonical)
        self.recorder.discovered.add(canonical)
        if self._known(canonical, lastmod):
            self.recorder.counts["unchanged"] += 1
            return
        yield scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            meta={
                "kz_canonical": canonical,
                "kz_via": via,
                "kz_title": title,
                "kz_published": published.isoformat() if published else None,
                "kz_lastmod": lastmod,
            },
        )

    def _known(self, canonical: str, lastmod: str | None) -> bool:
        """True when the page is in this run folder or in the state and not modified since."""
        if self.recorder.already_written(canonical):
            return True
        seen = self.state.page(canonical)
        if seen is None:
            return False
        newer = _parse_date(lastmod)
        before = _parse_date(seen.lastmod) or _parse_date(seen.last_fetched)
        return not (newer and before and newer > before)

    def parse_article(self, response: Response) -> Iterator[dict[str, Any]]:
        """An article page becomes a page record (or a not_html error)."""
        meta = response.meta
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if not content_type.startswith(HTML_TYPES) or not hasattr(response, "text"):
            self.recorder.write_error(
                response.url, "not_html", response.status, f"Content-Type {content_type!r}"
            )
            return
        canonical = canonicalize(response.url)
        if canonical != meta["kz_canonical"] and not self.outlet.is_article_url(canonical):
            canonical = meta["kz_canonical"]
        if not self._in_range(self._page_date(response, meta)):
            self.recorder.counts["out_of_range"] += 1
            return
        record = self._record(response, canonical, content_type)
        seen = self.state.page(canonical)
        if seen is not None and seen.content_hash == record["content_hash"]:
            self.recorder.counts["unchanged"] += 1  # refetched (newer lastmod), same content
            self._remember(record, meta.get("kz_lastmod"))
            return
        if not self.recorder.write_page(record):
            return
        self.recorder.counts["changed" if seen else "new"] += 1
        self._remember(record, meta.get("kz_lastmod"))
        yield {"canonical_url": canonical}

    def _remember(self, record: dict[str, Any], lastmod: str | None) -> None:
        self.state.record_page(
            record["canonical_url"],
            record["url"],
            record["content_hash"],
            record["fetched_at"],
            self.run_id,
            lastmod,
        )

    def _page_date(self, response: Response, meta: dict[str, Any]) -> datetime | None:
        if meta.get("kz_published"):
            return _parse_date(meta["kz_published"])
        found = response.css('meta[property="article:published_time"]::attr(content)').get()
        return _parse_date(found)

    def _record(self, response: Response, canonical: str, content_type: str) -> dict[str, Any]:
        meta = response.meta
        return {
            "url": response.url,
            "canonical_url": canonical,
            "outlet": self.outlet.id,
            "fetched_at": utc_now(),
            "status": response.status,
            "content_type": content_type,
            "html": response.text,
            "encoding": response.encoding,
            "warc_file": meta.get("warc_file"),
            "warc_record_id": meta.get("warc_record_id"),
            "discovered_via": meta["kz_via"],
            "feed_title": meta.get("kz_title"),
            "feed_published": meta.get("kz_published"),
            "requested_url": meta.get("redirect_urls", [response.url])[0],
            "content_hash": hashlib.sha256(response.body).hexdigest(),
            "run_id": self.run_id,
        }

    # ------------------------------------------------------------------ errors
    def on_error(self, failure: Failure) -> None:
        """Record a failed request as an error record; the crawl goes on."""
        request = failure.request  # type: ignore[attr-defined]
        kind, status, detail = classify_failure(failure)
        self.recorder.write_error(request.url, kind, status, detail)
        LOGGER.info("%s: %s (%s)", kind, request.url, detail)
