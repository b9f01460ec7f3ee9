"""Downloader middlewares (the raw WARC archive, retries that honour Retry-After) and the
redirect guard the spider applies to every redirected request before it is scheduled."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import uuid
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.response import response_status_message
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

LOGGER = logging.getLogger(__name__)

_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def is_private_host(host: str | None) -> bool:
    """True for loopback, private, link-local and other non-public addresses and names.

    Also catches the spellings resolvers accept for them: ``127.1``, ``2130706433``,
    ``0x7f000001``, ``[::1]``, ``[::ffff:127.0.0.1]``, ``*.localhost``.
    """
    if not host:
        return True
    name = host.strip("[]").rstrip(".").lower()
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        try:
            address = ipaddress.ip_address(socket.inet_aton(name))  # 127.1, 2130706433, 0x7f..
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global


def redirect_refusal(
    target: str,
    chain: Sequence[str],
    *,
    owns_url: Any,
    max_length: int,
    canonical: Any,
) -> tuple[str, str] | None:
    """(kind, detail) when a redirect to ``target`` must not be followed, else None.

    ``chain`` holds the URLs already visited (first request first); ``owns_url`` says whether
    a URL is the outlet's; ``canonical`` maps a URL to its canonical form (loop detection).
    """
    scheme = urlsplit(target).scheme.lower()
    origin = chain[0] if chain else ""
    if scheme not in ("http", "https"):
        return "bad_redirect", f"redirect from {origin} to a {scheme or 'relative'}: URL"
    if len(target) > max_length:
        return "url_too_long", f"redirect to a URL of {len(target)} characters"
    host = urlsplit(target).hostname
    if is_private_host(host):
        return "private_redirect", f"redirect to a non-public address ({host})"
    if not owns_url(target):
        return "offsite_redirect", f"redirect to {host}, outside the outlet"
    seen = {canonical(url) for url in chain}
    if canonical(target) in seen:
        return "redirect_loop", f"redirect back to {target} after {len(chain)} hops"
    return None


def retry_delay(retry_after: bytes | str | None, retries: int, base: float, cap: float) -> float:
    """Seconds to wait before a retry: the server's Retry-After, else exponential backoff."""
    if retry_after:
        value = retry_after.decode() if isinstance(retry_after, bytes) else retry_after
        try:
            return min(cap, max(0.0, float(value)))
        except ValueError:
            try:
                from datetime import UTC, datetime

                when = parsedate_to_datetime(value)
                return min(cap, max(0.0, (when - datetime.now(UTC)).total_seconds()))
            except (TypeError, ValueError):
                LOGGER.debug("unparsable Retry-After %r", value)
    return min(cap, base * (2**retries))


class PoliteRetryMiddleware(RetryMiddleware):
    """Scrapy's retries on 429/5xx, waiting as the server asks (Retry-After) or backing off."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("KZMON_RETRY_BACKOFF_BASE", 1.0)
        self.backoff_cap = settings.getfloat("KZMON_RETRY_BACKOFF_MAX", 60.0)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        """Wait, then retry a retryable status (until RETRY_TIMES); else pass it on."""
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        retries = request.meta.get("retry_times", 0)
        if retries < request.meta.get("max_retry_times", self.max_retry_times):
            delay = retry_delay(
                response.headers.get(b"Retry-After"), retries, self.backoff_base, self.backoff_cap
            )
            LOGGER.info("HTTP %s for %s: retrying in %.1fs", response.status, request.url, delay)
            await asyncio.sleep(delay)
        return self._retry(request, response_status_message(response.status)) or response


class WarcMiddleware:
    """Writes every raw response to the run's WARC file; records its id in request.meta."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._fh = None
        self._writer: WARCWriter | None = None
        crawler.signals.connect(self._close, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcMiddleware:
        """Scrapy's factory."""
        return cls(crawler)

    def _open(self, spider: Spider) -> WARCWriter:
        if self._writer is None:
            path = spider.recorder.warc_path  # type: ignore[attr-defined]
            self._fh = open(path, "ab")  # noqa: SIM115
            self._writer = WARCWriter(self._fh, gzip=True)
            info = self._writer.create_warcinfo_record(
                path.name, {"software": "kzmon crawl (Scrapy, warcio)", "format": "WARC/1.0"}
            )
            self._writer.write_record(info)
        return self._writer

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        """Archive the response as it came off the wire (before redirects/decompression)."""
        spider = spider or self.crawler.spider
        writer = self._open(spider)
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, values in response.headers.items()
            for v in values
        ]
        status_line = f"{response.status} {response_status_message(response.status)[4:]}"
        record_id = f"<urn:uuid:{uuid.uuid4()}>"
        record = writer.create_warc_record(
            response.url,
            "response",
            payload=BytesIO(response.body),
            http_headers=StatusAndHeaders(status_line, headers, protocol="HTTP/1.1"),
            warc_headers_dict={"WARC-Record-ID": record_id},
        )
        writer.write_record(record)
        request.meta["warc_record_id"] = record_id
        request.meta["warc_file"] = str(
            spider.recorder.warc_path.relative_to(spider.recorder.run_dir)
        )  # type: ignore[attr-defined]
        return response

    def _close(self, spider: Spider) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._writer = None
