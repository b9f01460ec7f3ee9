"""The replay's discovery documents per outlet: feeds, sitemaps, listings and archives.

One function per site layout answers a path of the outlet's host with a rendered response and
its Last-Modified date (`ReplaySite` adds ETag and 304 handling), or None for an unknown path.
The URL layouts follow ../shared/outlets/NOTES.md and the real copies beside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from spiders.registry import get_outlet

if TYPE_CHECKING:
    from spiders.replay.site import ReplaySite

#: Articles per listing page (small, so that pagination is exercised).
LISTING_PAGE_SIZE = 2
#: Articles in a "latest" or news sitemap.
LATEST_COUNT = 3
#: Site ids of the RFE/RL sitemaps (sitemap_<id>_<part>.xml.gz), as on the real sites.
RFERL_SITE_IDS = {"rferl": 8, "azattyq_kk": 5, "azattyq_ru": 6}
RFERL_FAMILY = tuple(RFERL_SITE_IDS)


def _page_of(items: list, page: int) -> list:
    start = (page - 1) * LISTING_PAGE_SIZE
    return items[start : start + LISTING_PAGE_SIZE]


def _pages(items: list) -> int:
    return max(1, -(-len(items) // LISTING_PAGE_SIZE))


# ---------------------------------------------------------------------- per-outlet routes
Rendered = "tuple[ReplayResponse, datetime] | None"


def _moscowtimes(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    arts = site.outlet_articles(oid)
    base = "https://www.themoscowtimes.com"
    if path == "/rss/news":
        return site.feed(
            oid, arts, self_url=f"{base}/rss/news", link=f"{base}/news", with_dirt=True
        )
    if path == "/newsmap.xml":
        return site.xml(
            "sitemap_index.xml",
            site.last_modified(arts),
            sitemaps=[(f"{base}/newsmap/news.xml", None)],
        )
    if path == "/newsmap/news.xml":
        latest = arts[: site.latest_count or LATEST_COUNT]
        return site.xml(
            "urlset.xml",
            site.last_modified(latest),
            urls=latest,
            news=True,
            publication="The Moscow Times",
        )
    if path == "/sitemap.xml":
        months = sorted({(a.published.year, a.published.month) for a in arts}, reverse=True)
        children = [
            (
                f"{base}/sitemap/{y}-{m}.xml",
                site.last_modified(
                    a for a in arts if (a.published.year, a.published.month) == (y, m)
                ),
            )
            for y, m in months
        ]
        return site.xml("sitemap_index.xml", site.last_modified(arts), sitemaps=children)
    month = re.fullmatch(r"/sitemap/(\d{4})-(\d{1,2})\.xml", path)
    if month:
        y, m = int(month.group(1)), int(month.group(2))
        chosen = [a for a in arts if (a.published.year, a.published.month) == (y, m)]
        return site.xml("urlset.xml", site.last_modified(chosen), urls=chosen, lastmod=False)
    listing = re.fullmatch(r"/news/?(\d*)", path)
    if listing:
        page = int(listing.group(1) or 1)
        return site.html(
            "listing_moscowtimes.html", _page_of(arts, page), page=page, pages=_pages(arts)
        )
    return None


def _jamestown(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    arts = site.outlet_articles(oid)
    base = "https://jamestown.org"
    programs = {"tm": "Terrorism Monitor", "edm": "Eurasia Daily Monitor"}
    if path == "/feed/":
        return site.feed(oid, arts, self_url=f"{base}/feed/", title="Jamestown", link=base)
    feed = re.fullmatch(r"/programs/(tm|edm)/feed/", path)
    if feed:
        name = programs[feed.group(1)]
        chosen = [a for a in arts if a.publication == name]
        return site.feed(
            oid,
            chosen,
            self_url=f"{base}{path}",
            title=f"{name} Archives",
            link=f"{base}/programs/{feed.group(1)}/",
            with_dirt=feed.group(1) == "edm",
        )
    listing = re.fullmatch(r"/(program-name/edm|subject/terrorism)/(?:page/(\d+)/?)?", path)
    if listing:
        section, page = listing.group(1), int(listing.group(2) or 1)
        chosen = (
            [a for a in arts if a.publication == programs["edm"]]
            if section == "program-name/edm"
            else [a for a in arts if a.security]
        )
        heading = (
            "Latest Eurasia Daily Monitor Articles"
            if section == "program-name/edm"
            else "Terrorism"
        )
        return site.html(
            "listing_jamestown.html",
            _page_of(chosen, page),
            page=page,
            pages=_pages(chosen),
            section=section,
            heading=heading,
        )
    return None


def _globalvoices(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    arts = site.outlet_articles(oid)
    base = "https://globalvoices.org"
    region = "/-/world/central-asia-caucasus/"
    if path == "/feed/":
        return site.feed(oid, arts, self_url=f"{base}/feed/", title="Global Voices", link=base)
    if path == f"{region}feed/":
        return site.feed(
            oid,
            arts,
            self_url=f"{base}{path}",
            link=f"{base}{region}",
            title="Global Voices » Central Asia & Caucasus",
            with_dirt=True,
        )
    if path == region:
        stamp = (query.get("m") or [""])[0]
        chosen = [a for a in arts if a.published.strftime("%Y%m") == stamp] if stamp else arts[:10]
        return site.html("listing_globalvoices.html", chosen, month=stamp)
    return None


def _katehon(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    arts = site.outlet_articles(oid)
    base = "https://katehon.com"
    if path == "/en/rss.xml":
        return site.feed(
            oid, arts, self_url=f"{base}/en/rss.xml", link=f"{base}/en", with_dirt=True
        )
    if path == "/en/articles":
        page = int((query.get("page") or ["0"])[0] or 0) + 1
        return site.html(
            "listing_katehon.html", _page_of(arts, page), page=page, pages=_pages(arts)
        )
    return None


def _rferl(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    arts = site.outlet_articles(oid)
    outlet = get_outlet(oid)
    base, sid = outlet.base_url, RFERL_SITE_IDS[oid]
    last = site.last_modified(arts)
    if path == "/sitemap.xml":
        parts = [
            (f"{base}/sitemap_{sid}_1.xml.gz", last),
            (f"{base}/sitemap_{sid}_latest.xml.gz", None),
            (f"{base}/sitemap_{sid}_news.xml.gz", None),
            (f"{base}/sitemap_{sid}_sections.xml.gz", None),
        ]
        return site.xml("sitemap_index.xml", last, sitemaps=parts)
    part = re.fullmatch(rf"/sitemap_{sid}_(\w+)\.xml\.gz", path)
    if not part:
        return None
    kind = part.group(1)
    if kind == "1":
        return site.xml("urlset.xml", last, gz=True, urls=arts, changefreq="weekly")
    if kind == "latest":
        latest = arts[: site.latest_count or LATEST_COUNT]
        return site.xml(
            "urlset.xml",
            site.last_modified(latest),
            gz=True,
            urls=latest,
            dirt=site.listed_dirt(oid),
            changefreq="hourly",
        )
    if kind == "news":
        latest = arts[: site.latest_count or LATEST_COUNT]
        return site.xml(
            "urlset.xml",
            site.last_modified(latest),
            gz=True,
            urls=latest,
            news=True,
            publication="Radio Free Europe / Radio Liberty Inc.",
        )
    if kind == "sections":
        return site.xml("sections.xml", last, gz=True, base=base)
    return None


DISCOVERY: dict[str, Callable[..., Rendered]] = {
    "moscowtimes": _moscowtimes,
    "jamestown": _jamestown,
    "globalvoices": _globalvoices,
    "katehon": _katehon,
    "rferl": _rferl,
    "azattyq_kk": _rferl,
    "azattyq_ru": _rferl,
}

# The outlets added in issue #17 (Kazakhstan's media and two regional ones) have their own module.
from spiders.replay.routes_kz import DISCOVERY as _KZ_DISCOVERY  # noqa: E402

DISCOVERY.update(_KZ_DISCOVERY)
