"""`OutletSpider`: one generic spider driven by a registry entry (spiders/outlets.yaml).

A run has two phases (docs/crawl.md):

1. **Discovery.** The outlet's feeds (feedparser), sitemaps (streamed, `spiders.sitemaps`),
   paginated listings and dated archives are fetched; each sitemap's *role* decides whether
   and how far it is read (news/latest every incremental run, archive parts only when their
   lastmod moved, videos from their watermark, everything in a backfill). Every article URL
   found is canonicalised and goes into the run's frontier (`spiders.frontier`, SQLite) with
   the best date its sources offer (`spiders.dating`); nothing is requested yet.
2. **Fetching.** `start()` then streams the frontier newest first as requests, lazily (Scrapy
   pulls them as it has room), up to the per-run cap; known and unchanged pages are settled
   without a request.

Every discovered URL ends with an outcome in the frontier, every failure with an error record
of a named kind (redirects leaving the outlet, to private addresses or in loops are refused
before they are scheduled), every discovery document with a line in ``sources.jsonl``, and the
summary reconciles them. Sources are fetched with the validators of the last committed run.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.python.failure import Failure

from spiders.batch import RunRecorder, peak_rss_kib, utc_now
from spiders.canonical import canonicalize
from spiders.crawl_settings import URL_MAX_LENGTH
from spiders.dating import iso_utc, parse_date, plausible
from spiders.discovery import Discovery
from spiders.frontier import Frontier, Row
from spiders.middlewares import redirect_refusal
from spiders.registry import Outlet, get_outlet
from spiders.state import CrawlState

LOGGER = logging.getLogger(__name__)

#: Content types accepted as article pages.
HTML_TYPES = ("text/html", "application/xhtml+xml")
#: Earliest date a backfill without `since` goes back to (the analysts' history starts here).
BACKFILL_START = date(2011, 1, 1)
#: Where a page says when it was published (first match wins).
_PAGE_DATE_SELECTORS = (
    'meta[property="article:published_time"]::attr(content)',
    'meta[name="article:published_time"]::attr(content)',  # inform.kz writes name=
    'meta[property="og:article:published_time"]::attr(content)',
    'meta[itemprop="datePublished"]::attr(content)',
    '[itemprop="datePublished"]::attr(datetime)',
    'meta[name="pubdate"]::attr(content)',
    "time[pubdate]::attr(datetime)",
    "time[datetime]::attr(datetime)",
)

#: schema.org's datePublished in a JSON-LD block (the fallback when no tag has the date).
_JSON_LD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{8,40})"')


class Refused(IgnoreRequest):
    """A request the crawl refuses, with the kind recorded for it."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def classify_failure(failure: Failure) -> tuple[str, int | None, str]:
    """(kind, status, detail) of a failed request, in the vocabulary of errors.jsonl."""
    exc = failure.value
    if isinstance(exc, Refused):
        return exc.kind, None, exc.detail
    if isinstance(exc, HttpError):
        response = exc.response
        location = response.headers.get(b"Location", b"").decode("latin-1")
        if 300 <= response.status < 400 and location:
            scheme = urlsplit(location).scheme or "relative"
            return "bad_redirect", response.status, f"redirect to a {scheme}: URL, not followed"
        return "http_status", response.status, f"HTTP {response.status}"
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
        if "max redirections" in text:
            return "too_many_redirects", None, text
        if "DOWNLOAD_MAXSIZE" in text or "download max size" in text:
            return "too_large", None, text
        return "ignored", None, text
    if isinstance(exc, DownloadConnectionRefusedError | ConnectionRefusedError):
        return "connection", None, str(exc)
    return "download", None, f"{type(exc).__name__}: {exc}"


class OutletSpider(Discovery, scrapy.Spider):
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
        self.frontier = Frontier(self.recorder.frontier_path)
        self.links_ignored: Counter = Counter()
        self._init_discovery()
        self._undated_policy = self.outlet.backfill_undated
        self._released = 0
        self._closing = False
        self._started = time.monotonic()
        self._run_start = iso_utc(datetime.now(UTC))

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> OutletSpider:
        """Scrapy's factory; connects the close, redirect-guard and dropped-request hooks."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        signals = scrapy.signals
        crawler.signals.connect(spider._on_closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._on_request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(spider._on_request_dropped, signal=signals.request_dropped)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Discovery requests; then, once discovery is done, the frontier newest first."""
        self._undated_policy = self.settings.get("KZMON_BACKFILL_UNDATED") or self._undated_policy
        self.state.begin_run(self.run_id, self.mode)
        self._adopt_stranded()
        for request in self._discovery_requests():
            yield request
        while self._open_sources and not self._closing:
            await asyncio.sleep(0.05)
        if self._closing:
            return
        self._finalize_discovery()
        for request in self._article_requests():
            yield request

    def _on_closed(self, spider: scrapy.Spider, reason: str) -> None:
        self._closing = True
        if reason == "closespider_timeout":
            left = self.frontier.settle_rest("time_limit", "the run's time limit was reached")
            seconds = self.settings.getfloat("CLOSESPIDER_TIMEOUT")
            self.recorder.record_limit(
                "run_time_limit", self.outlet.base_url, f"{seconds:g} s; {left} URLs left open"
            )
        elif reason != "finished":
            self.frontier.settle_rest("interrupted", f"the crawl stopped ({reason})")
        else:
            lost = self.frontier.settle_rest("lost", "no outcome was recorded")
            if lost:
                LOGGER.error("%d URLs ended without an outcome", lost)
        unfinished = self.frontier.unfinished_sources()
        if unfinished:  # read them again next run: their validators would hide these URLs
            self.state.forget_sources(self.run_id, unfinished)
        outcomes = self.frontier.outcome_counts()
        discovered = self.frontier.count()
        stats = self.crawler.stats
        self.recorder.perf = {
            "elapsed_s": round(time.monotonic() - self._started, 3),
            "responses": stats.get_value("downloader/response_count", 0),
            "peak_rss_kib": peak_rss_kib(),
            "finish_reason": reason,
            "open_sources": len(self._open_sources),
        }
        extra = {
            "discovered": discovered,
            "outcomes": dict(sorted(outcomes.items())),
            "reconciled": sum(outcomes.values()) == discovered and "None" not in outcomes,
            "unchanged": outcomes.get("unchanged", 0),
            "out_of_range": outcomes.get("out_of_range", 0),
            "capped": outcomes.get("capped", 0),
            "undated": outcomes.get("undated", 0),
            "requested": self._released,
            "links_ignored": dict(self.links_ignored),
        }
        summary = self.recorder.close(extra)
        self.frontier.close()
        self.state.close()
        LOGGER.info("crawl %s finished (%s): %s", self.outlet.id, reason, summary["counts"])

    # ------------------------------------------------------------------ fetching
    def _article_requests(self) -> Iterator[scrapy.Request]:
        cap = self._setting("KZMON_MAX_PAGES", 1000)
        capped = 0
        for row in self.frontier.pending(undated_first=self.mode == "incremental"):
            if self._closing:
                return
            settled = self._settle_without_fetch(row)
            if settled:
                self.frontier.settle(row.canonical, *settled)
                continue
            if self._released >= cap:
                capped += 1
                self.frontier.settle(row.canonical, "capped", f"over the per-run cap of {cap}")
                continue
            self.frontier.mark_released(row.canonical)
            self._released += 1
            yield self._article_request(row)
        if capped:
            self.recorder.record_limit(
                "page_cap",
                self.outlet.base_url,
                f"{cap} pages requested; {capped} more left for later runs",
            )

    def _settle_without_fetch(self, row: Row) -> tuple[str, str] | None:
        """(outcome, detail) when a row needs no request, else None."""
        if self.recorder.already_written(row.canonical):
            return "unchanged", "already in this run folder"
        if row.via == "stranded":
            return None
        seen = self.state.page(row.canonical)
        if seen is not None:
            newer = parse_date(row.lastmod)
            before = parse_date(seen.lastmod) or parse_date(seen.last_fetched)
            if not (newer and before and newer > before):
                return "unchanged", "fetched by an earlier run and not modified since"
        if self.mode == "backfill" and row.date is None:
            known = self.state.page_date(row.canonical)
            if known:
                if not self._in_range(parse_date(known)):
                    return "out_of_range", f"page dated {known[:10]} by an earlier fetch"
            elif self._undated_policy == "skip":
                why = "mass-stamped lastmod" if row.date_source == "mass_stamp" else "no date"
                return "undated", f"{why}; skipped by the undated policy"
        return None

    def _article_request(self, row: Row) -> scrapy.Request:
        return scrapy.Request(
            row.url,
            callback=self.parse_article,
            errback=self.on_error,
            meta={
                "kz_canonical": row.canonical,
                "kz_via": row.via,
                "kz_title": row.title,
                "kz_published": row.date,
                "kz_date_source": row.date_source,
                "kz_lastmod": row.lastmod,
            },
        )

    def _in_range(self, when: datetime | None) -> bool:
        if self.mode != "backfill" or when is None:
            return True
        day = when.astimezone(UTC).date()
        return bool(self.since and self.until and self.since <= day <= self.until)

    def parse_article(self, response: Response) -> Iterator[dict[str, Any]]:
        """An article page becomes a page record, or its row gets why not."""
        meta = response.meta
        row_key = meta["kz_canonical"]
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if not content_type.startswith(HTML_TYPES) or not hasattr(response, "text"):
            detail = f"Content-Type {content_type!r}"
            self.recorder.write_error(response.url, "not_html", response.status, detail)
            self.frontier.settle(row_key, "not_html", detail)
            return
        canonical = canonicalize(response.url)
        if canonical != row_key and not self.outlet.is_article_url(canonical):
            canonical = row_key
        dated = self._dated(response, meta)
        if dated is not None:
            self.frontier.settle(row_key, *dated)
            return
        record = self._record(response, canonical, content_type)
        seen = self.state.page(canonical)
        if seen is not None and seen.content_hash == record["content_hash"]:
            self.recorder.counts["unchanged"] += 1  # refetched (newer lastmod), same content
            self.frontier.settle(row_key, "unchanged", "refetched; same content")
            self._remember(record, meta)
            return
        if not self.recorder.write_page(record):
            self.frontier.settle(row_key, "duplicate", f"{canonical} is already in this run")
            return
        self.recorder.counts["changed" if seen else "new"] += 1
        self.frontier.settle(row_key, "fetched", "changed" if seen else "new")
        self._remember(record, meta)
        yield {"canonical_url": canonical}

    def _dated(self, response: Response, meta: dict[str, Any]) -> tuple[str, str] | None:
        """(outcome, detail) when a backfill page is out of range or has no date at all."""
        if self.mode != "backfill" or meta["kz_via"] == "stranded":
            return None
        when = parse_date(meta.get("kz_published"))
        if when is None:
            when = plausible(self._page_date(response))
            if when is None:
                return "undated", "no reliable date in its sources nor on the page"
            self.state.record_page_date(meta["kz_canonical"], iso_utc(when) or "", "page")
            meta["kz_published"], meta["kz_date_source"] = iso_utc(when), "page"
        if not self._in_range(when):
            source = "page dated" if meta.get("kz_date_source") == "page" else "dated"
            return "out_of_range", f"{source} {when.date().isoformat()}"
        return None

    def _remember(self, record: dict[str, Any], meta: dict[str, Any]) -> None:
        self.state.record_page(
            record["canonical_url"],
            record["url"],
            record["content_hash"],
            record["fetched_at"],
            self.run_id,
            meta.get("kz_lastmod"),
            meta.get("kz_published"),
        )

    @staticmethod
    def _page_date(response: Response) -> datetime | None:
        for selector in _PAGE_DATE_SELECTORS:
            found = parse_date(response.css(selector).get())
            if found is not None:
                return found
        match = _JSON_LD_DATE.search(response.text[:200_000])
        return parse_date(match.group(1)) if match else None

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
            "date_source": meta.get("kz_date_source"),
            "sitemap_lastmod": meta.get("kz_lastmod"),
            "requested_url": meta.get("redirect_urls", [response.url])[0],
            "content_hash": hashlib.sha256(response.body).hexdigest(),
            "run_id": self.run_id,
        }

    # ------------------------------------------------------------------ errors
    def on_error(self, failure: Failure) -> None:
        """Record a failed request: an error record, and the URL's or the source's outcome."""
        request = failure.request  # type: ignore[attr-defined]
        kind, status, detail = classify_failure(failure)
        self._failed(request, kind, status, detail)
        LOGGER.info("%s: %s (%s)", kind, request.url, detail)

    def _failed(self, request: scrapy.Request, kind: str, status: int | None, detail: str) -> None:
        meta = request.meta
        url = meta.get("redirect_urls", [request.url])[0]
        self.recorder.write_error(url, kind, status, detail)
        if "kz_token" in meta:
            self.recorder.write_source(
                {
                    "url": meta.get("kz_source", url),
                    "role": meta.get("kz_role", meta["kz_kind"]),
                    "status": "error",
                    "kind": kind,
                    "why": detail,
                }
            )
            self._source_done(meta)
        elif "kz_canonical" in meta:
            self.frontier.settle(meta["kz_canonical"], kind, detail)

    def _on_request_scheduled(self, request: scrapy.Request, spider: scrapy.Spider) -> None:
        """Refuse a redirect that leaves the outlet, goes to a private address, loops or is
        too long, before Scrapy schedules it (where it would be dropped without a record)."""
        chain = request.meta.get("redirect_urls")
        if not chain:
            return
        refusal = redirect_refusal(
            request.url,
            chain,
            owns_url=self.outlet.owns_url,
            max_length=URL_MAX_LENGTH,
            canonical=canonicalize,
        )
        if refusal is None:
            return
        kind, detail = refusal
        self._failed(request, kind, None, f"{detail}: {request.url[:300]}")
        raise Refused(kind, detail)

    def _on_request_dropped(self, request: scrapy.Request, spider: scrapy.Spider) -> None:
        """The scheduler dropped a request (a duplicate): give it an outcome too."""
        meta = request.meta
        target = request.url[:300]
        if meta.get("redirect_urls") and "kz_canonical" in meta:
            self.frontier.settle(
                meta["kz_canonical"], "duplicate", f"redirected to {target}, already requested"
            )
        elif "kz_canonical" in meta:
            self.frontier.settle(meta["kz_canonical"], "duplicate", "requested twice")
        else:
            self._failed(request, "duplicate", None, f"dropped as a duplicate: {target}")
