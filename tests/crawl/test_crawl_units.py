"""Offline unit tests of the crawl stage: registry, canonical URLs, settings, helpers."""

from __future__ import annotations

import pytest

from spiders.canonical import canonicalize
from spiders.crawl_settings import scrapy_settings
from spiders.middlewares import retry_delay
from spiders.registry import get_outlet, load_outlets
from spiders.spider import classify_failure
from spiders.transport import replay_url_for

OUTLET_IDS = [
    "moscowtimes",
    "jamestown",
    "globalvoices",
    "katehon",
    "rferl",
    "azattyq_kk",
    "azattyq_ru",
]


def test_registry_has_the_contracted_outlets_and_fields() -> None:
    outlets = load_outlets()
    # the first seven outlets; issue #17's are checked in tests/outlets/
    assert [o.id for o in outlets][: len(OUTLET_IDS)] == OUTLET_IDS
    for outlet in outlets:
        assert outlet.name and outlet.languages and outlet.schedule
        assert outlet.base_url.startswith("https://") and outlet.host in outlet.allowed_domains
        assert outlet.expected_cadence_hours > 0
        assert outlet.feeds or outlet.sitemaps or outlet.listings
    assert get_outlet("azattyq_kk").languages == ("kk",)
    with pytest.raises(KeyError):
        get_outlet("nope")


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "https://globalvoices.org/2011/12/18/x/?utm_source=feedburner&utm_medium=feed",
            "https://globalvoices.org/2011/12/18/x",
        ),
        ("https://www.rferl.org/amp/a/x/27870512.html", "https://www.rferl.org/a/x/27870512.html"),
        ("https://jamestown.org/program/x/", "https://jamestown.org/program/x"),
        (
            "https://WWW.themoscowtimes.com/2016/06/06/x-a1?fbclid=1#top",
            "https://www.themoscowtimes.com/2016/06/06/x-a1",
        ),
        ("https://katehon.com/en/articles?page=1", "https://katehon.com/en/articles?page=1"),
    ],
)
def test_canonical_urls(url: str, canonical: str) -> None:
    assert canonicalize(url) == canonical


def test_article_patterns() -> None:
    rferl = get_outlet("rferl")
    assert rferl.is_article_url("https://www.rferl.org/a/x/27870512.html")
    assert not rferl.is_article_url("https://www.rferl.org/p/8433.html")
    mt = get_outlet("moscowtimes")
    assert mt.is_article_url("https://www.themoscowtimes.com/2011/11/09/kazakhstan-a10695")
    assert not mt.is_article_url("https://www.themoscowtimes.com/news/2")


def test_settings_are_polite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KZMON_USER_AGENT", "kzmon-test (+mailto:ops@example.org)")
    monkeypatch.delenv("KZMON_REPLAY_URL", raising=False)
    values = scrapy_settings(get_outlet("jamestown"))
    assert values["ROBOTSTXT_OBEY"] is True
    assert values["USER_AGENT"] == "kzmon-test (+mailto:ops@example.org)"
    assert values["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert values["AUTOTHROTTLE_ENABLED"] is True and values["DOWNLOAD_DELAY"] >= 1
    assert values["REMOTE_CONTROL_ENABLED"] is False
    assert 429 in values["RETRY_HTTP_CODES"] and 503 in values["RETRY_HTTP_CODES"]
    assert values["DOWNLOAD_TIMEOUT"] and values["DOWNLOAD_MAXSIZE"]
    assert "DOWNLOAD_HANDLERS" not in values  # live sites: the normal transport


def test_replay_routing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KZMON_REPLAY_URL", "http://127.0.0.1:9999")
    values = scrapy_settings(get_outlet("rferl"), {"DOWNLOAD_DELAY": 0})
    assert values["DOWNLOAD_HANDLERS"]["https"] == "spiders.transport.ReplayDownloadHandler"
    assert values["DOWNLOAD_DELAY"] == 0
    assert (
        replay_url_for("https://katehon.com/en/articles?page=1", "http://127.0.0.1:9999/")
        == "http://127.0.0.1:9999/katehon.com/en/articles?page=1"
    )


def test_retry_delay_honours_retry_after_and_backs_off() -> None:
    assert retry_delay(b"7", 0, 2.0, 60) == 7
    assert retry_delay(b"999", 0, 2.0, 60) == 60
    assert retry_delay(None, 0, 2.0, 60) == 2.0
    assert retry_delay(None, 3, 2.0, 60) == 16.0
    assert retry_delay(b"Wed, 21 Oct 2015 07:28:00 GMT", 0, 2.0, 60) == 0.0


def _failure(exc: Exception):
    from scrapy import Request
    from twisted.python.failure import Failure

    failure = Failure(exc)
    failure.request = Request("https://www.rferl.org/a/x/1.html")
    return failure


def test_failures_are_classified() -> None:
    from scrapy.exceptions import (
        CannotResolveHostError,
        DownloadCancelledError,
        DownloadTimeoutError,
        IgnoreRequest,
    )
    from scrapy.http import Response
    from scrapy.spidermiddlewares.httperror import HttpError

    response = Response("https://www.rferl.org/a/x/1.html", status=503)
    assert classify_failure(_failure(HttpError(response, "x")))[:2] == ("http_status", 503)
    assert classify_failure(_failure(CannotResolveHostError("no such host")))[0] == "dns"
    assert classify_failure(_failure(DownloadTimeoutError("took too long")))[0] == "timeout"
    assert classify_failure(_failure(DownloadCancelledError("max size")))[0] == "too_large"
    assert classify_failure(_failure(IgnoreRequest("Forbidden by robots.txt")))[0] == (
        "robots_denied"
    )
    assert classify_failure(_failure(IgnoreRequest("Filtered offsite request to 'x'")))[0] == (
        "offsite"
    )
