"""Scrapy settings of a crawl: polite by default, configurable per outlet and per call.

Politeness (issue 3): robots.txt obeyed, an identifying User-Agent with a contact address
(``KZMON_USER_AGENT``), AutoThrottle, one request at a time per domain, a delay per outlet
(registry `download_delay`), retries with backoff on 429/5xx honouring Retry-After, timeouts, a
maximum page size, only the outlet's own domains, and Scrapy's remote-control and telnet
extensions disabled.

Bounds (issue 13, item 3; each recorded when hit, docs/crawl.md): articles per run, run time,
entries per discovery document, discovery documents per run, sitemap size and nesting depth.
They are environment variables (`crawl_limits`) and become ``KZMON_*`` Scrapy settings, so a
single crawl can change them through ``overrides``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from kzmon.settings import get_settings
from spiders.registry import Outlet

LOGGER = logging.getLogger(__name__)

#: Largest page accepted (bytes). Real article pages are < 1 MiB; 5 MiB leaves room for
#: image-heavy pages while refusing runaway documents.
MAX_PAGE_BYTES = 5 * 1024 * 1024
#: Seconds before a request times out; news sites answer in well under 10 s.
DOWNLOAD_TIMEOUT_S = 30
#: Retries after the first attempt, for 429/5xx and network errors.
RETRY_TIMES = 3
#: Longest URL requested (the de-facto browser limit, Scrapy's URLLENGTH_LIMIT).
URL_MAX_LENGTH = 2083


@dataclass(frozen=True)
class CrawlLimits:
    """The bounds of one crawl run."""

    #: Article pages fetched per run (the newest first; the rest end as ``capped``).
    max_pages: int
    #: Seconds the crawl may run; then it closes and open URLs end as ``time_limit``.
    max_seconds: float
    #: Entries read from one feed, sitemap or listing page.
    source_max_items: int
    #: Discovery documents (feeds, sitemaps, listing and archive pages) per run.
    max_sources: int
    #: Uncompressed bytes of one sitemap (the protocol's 50 MB; more is refused).
    sitemap_max_bytes: int
    #: Nesting of sitemap indexes below a registry source (RFE/RL needs 1).
    sitemap_max_depth: int


#: (variable, default) per limit and mode. Defaults: an hourly incremental run at 1 s per
#: request fetches 1,000 pages plus discovery in ~20 min and is cut at 40 min, inside the crawl
#: task's 45 min timeout (kzmon.orchestration.TIMEOUTS); a backfill run takes 10,000 pages
#: (~2.8 h at 1 s) and is cut at 2 h 50 min, inside the backfill crawl task's 3 h.
_LIMIT_ENV = {
    "max_pages": (("KZMON_CRAWL_MAX_PAGES", 1000), ("KZMON_BACKFILL_MAX_PAGES", 10000)),
    "max_seconds": (("KZMON_CRAWL_MAX_SECONDS", 2400), ("KZMON_BACKFILL_MAX_SECONDS", 10200)),
    "source_max_items": (("KZMON_SOURCE_MAX_ITEMS", 50000),) * 2,
    "max_sources": (("KZMON_CRAWL_MAX_SOURCES", 1000),) * 2,
    "sitemap_max_bytes": (("KZMON_SITEMAP_MAX_BYTES", 50 * 1024 * 1024),) * 2,
    "sitemap_max_depth": (("KZMON_SITEMAP_MAX_DEPTH", 3),) * 2,
}


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        LOGGER.warning("%s=%r is not a number; using %s", name, raw, default)
        return default
    return value if value > 0 else default


def crawl_limits(mode: str, outlet: Outlet | None = None) -> CrawlLimits:
    """The limits of a crawl in ``mode``, from the environment (and the registry's
    `max_pages_per_run`, which wins over KZMON_CRAWL_MAX_PAGES for its outlet)."""
    column = 1 if mode == "backfill" else 0
    values = {key: _env_number(*pairs[column]) for key, pairs in _LIMIT_ENV.items()}
    if outlet is not None and outlet.max_pages_per_run and mode != "backfill":
        values["max_pages"] = outlet.max_pages_per_run
    return CrawlLimits(
        max_pages=int(values["max_pages"]),
        max_seconds=float(values["max_seconds"]),
        source_max_items=int(values["source_max_items"]),
        max_sources=int(values["max_sources"]),
        sitemap_max_bytes=int(values["sitemap_max_bytes"]),
        sitemap_max_depth=int(values["sitemap_max_depth"]),
    )


def limit_settings(limits: CrawlLimits) -> dict[str, Any]:
    """The limits as Scrapy settings (what the spider reads; ``overrides`` can change them)."""
    return {
        "KZMON_MAX_PAGES": limits.max_pages,
        "KZMON_SOURCE_MAX_ITEMS": limits.source_max_items,
        "KZMON_MAX_SOURCES": limits.max_sources,
        "KZMON_SITEMAP_MAX_BYTES": limits.sitemap_max_bytes,
        "KZMON_SITEMAP_MAX_DEPTH": limits.sitemap_max_depth,
        "CLOSESPIDER_TIMEOUT": limits.max_seconds,
    }


def scrapy_settings(
    outlet: Outlet, overrides: dict[str, Any] | None = None, mode: str = "incremental"
) -> dict[str, Any]:
    """The settings of one outlet's crawl (``overrides`` win, e.g. for tests and benchmarks)."""
    settings = get_settings()
    values: dict[str, Any] = {
        "BOT_NAME": "kzmon",
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": outlet.download_delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,  # ±50 % around the delay, as browsers vary
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": outlet.download_delay,
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "DOWNLOAD_TIMEOUT": DOWNLOAD_TIMEOUT_S,
        "DOWNLOAD_MAXSIZE": MAX_PAGE_BYTES,
        "DOWNLOAD_WARNSIZE": MAX_PAGE_BYTES // 2,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": RETRY_TIMES,
        "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
        "KZMON_RETRY_BACKOFF_BASE": 2.0,
        "KZMON_RETRY_BACKOFF_MAX": 120.0,
        "COOKIES_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        # Article requests leave the frontier newest first; first in, first out keeps that
        # order for those waiting in the scheduler together (Scrapy's default is LIFO).
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "REDIRECT_MAX_TIMES": 5,
        "URLLENGTH_LIMIT": URL_MAX_LENGTH,
        "LOG_LEVEL": "INFO",
        **limit_settings(crawl_limits(mode, outlet)),
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "spiders.middlewares.PoliteRetryMiddleware": 550,
            # Closest to the network: sees each raw response, redirects included.
            "spiders.middlewares.WarcMiddleware": 950,
        },
    }
    if settings.replay_url:
        handler = "spiders.transport.ReplayDownloadHandler"
        values["KZMON_REPLAY"] = settings.replay_url
        values["DOWNLOAD_HANDLERS"] = {"http": handler, "https": handler}
    values.update(overrides or {})
    return values
