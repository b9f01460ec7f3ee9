"""Scrapy settings of a crawl: polite by default, configurable per outlet and per call.

Politeness (issue 3): robots.txt obeyed, an identifying User-Agent with a contact address
(``KZMON_USER_AGENT``), AutoThrottle, one request at a time per domain, a delay per outlet
(registry `download_delay`), retries with backoff on 429/5xx honouring Retry-After, timeouts, a
maximum page size, only the outlet's own domains, and Scrapy's remote-control and telnet
extensions disabled.
"""

from __future__ import annotations

import logging
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


def scrapy_settings(outlet: Outlet, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
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
        "REDIRECT_MAX_TIMES": 5,
        "LOG_LEVEL": "INFO",
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
