"""Discovery documents of the outlets added in issue #17 (Kazakhstan's media and two regional ones).

The same contract as `spiders.replay.routes` (which merges `DISCOVERY` into its own): one
function per site layout answers a path of the outlet's host with a rendered response and its
Last-Modified date, or None for an unknown path. The layouts follow the outlet notes in
docs/outlets/ (feed, sitemap and listing URLs, their markup); what the notes mark as
unconfirmed is modelled on the platform the site runs on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from spiders.registry import get_outlet

if TYPE_CHECKING:
    from datetime import datetime

    from spiders.replay.site import ReplayArticle, ReplayResponse, ReplaySite

    Rendered = tuple[ReplayResponse, datetime] | None

#: Articles per listing page and per sitemap part: small, so that pagination is exercised.
PAGE_SIZE = 2
#: Articles in a Google-News sitemap (real ones hold the last two days).
NEWS_COUNT = 3
#: Kazinform's editions: path prefix, feed name, sitemap suffix.
KAZINFORM_EDITIONS = {
    "ru": ("ru", "rus", "ru"),
    "kk": ("kz", "kaz", "kz"),
    "en": ("en", "eng", "en"),
}
#: A malformed `<loc>` Tengrinews' sitemaps are known to carry (a sister site's URL glued to the
#: outlet's host); a crawl must record it as offsite, not crash.
TENGRI_GLUED_LOC = "https://tengrinews.kzhttps://tengrisport.kz/football/kayrat-astana-571001/"


def _page(items: list, page: int) -> list:
    return items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]


def _page_count(items: list) -> int:
    return max(1, -(-len(items) // PAGE_SIZE))


def _chunks(items: list, size: int = 0) -> list[list]:
    """Items oldest first, in sitemap parts of ``size`` (default PAGE_SIZE; part 1 the oldest,
    as Drupal does)."""
    size = size or PAGE_SIZE
    ordered = sorted(items, key=lambda a: a.published)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)] or [[]]


def _int(value: str | None, default: int = 1) -> int:
    return int(value) if value and value.isdigit() else default


def _query(query: dict, name: str) -> str | None:
    return (query.get(name) or [None])[0]


def _part(arts: list[ReplayArticle], n: int, size: int = 0) -> list[ReplayArticle] | None:
    """Sitemap part ``n`` (1-based) of the articles, None past the last one."""
    chunks = _chunks(arts, size)
    return chunks[n - 1] if 1 <= n <= len(chunks) else None


def _listing(site: ReplaySite, template: str, arts: list, page: int, **context: object):
    """Listing page ``page`` of the articles (PAGE_SIZE a page)."""
    return site.html(template, _page(arts, page), page=page, pages=_page_count(arts), **context)


def _parts_index(site: ReplaySite, arts: list[ReplayArticle], url_for: Callable[[int], str]):
    """A sitemap index of the articles' parts, each with the newest lastmod it holds."""
    parts = _chunks(arts, site.part_size)
    children = [(url_for(n), site.last_modified(part)) for n, part in enumerate(parts, start=1)]
    return site.xml("sitemap_index.xml", site.last_modified(arts), sitemaps=children)


# ---------------------------------------------------------------------- per-site routes
def _tengrinews(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    """tengrinews.kz / kaz.tengrinews.kz: RSS, a sitemap index of news parts, /news/ pages."""
    arts = site.outlet_articles(oid)
    base = get_outlet(oid).base_url
    prefix = "kk-" if oid == "tengrinews_kk" else ""
    if path == "/news.rss":
        return site.feed(oid, arts, self_url=f"{base}/news.rss", link=base, with_dirt=True)
    if path == f"/{prefix}sitemap-index.xml":
        parts = _chunks(arts, site.part_size)
        children = [
            (f"{base}/{prefix}sitemap-news-{n}.xml", site.last_modified(part))
            for n, part in enumerate(parts, start=1)
        ]
        children.append((f"{base}/{prefix}sitemap-tags.xml", None))
        return site.xml("sitemap_index.xml", site.last_modified(arts), sitemaps=children)
    part = re.fullmatch(rf"/{prefix}sitemap-news-(\d+)\.xml", path)
    if part:
        n = int(part.group(1))
        chosen = _part(arts, n, site.part_size)
        if chosen is None:
            return None
        newest = n == len(_chunks(arts, site.part_size))
        glued = [TENGRI_GLUED_LOC] if newest and oid == "tengrinews_ru" else []
        return site.xml(
            "sitemap_tengrinews.xml", site.last_modified(chosen), urls=chosen, glued=glued
        )
    if path == f"/{prefix}sitemap-tags.xml":
        return site.xml("sitemap_tengrinews_tags.xml", site.last_modified(arts), base=base)
    listing = re.fullmatch(r"/news/(?:page/(\d+)/)?", path)
    if listing:
        page = _int(listing.group(1))
        return _listing(
            site,
            "listing_tengrinews.html",
            arts,
            page,
            base=base,
            lang=get_outlet(oid).languages[0],
        )
    return None


def _kazinform(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    """www.inform.kz: a feed and a Google-News sitemap per edition, the /ru/lenta listing."""
    arts = site.outlet_articles(oid)
    base = get_outlet(oid).base_url
    for lang, (prefix, feed_name, suffix) in KAZINFORM_EDITIONS.items():
        edition = [a for a in arts if a.language == lang]
        if path == f"/rss/{feed_name}.xml":
            return site.feed(
                oid, edition, self_url=f"{base}{path}", link=f"{base}/{prefix}", lang=lang
            )
        if path == f"/sitemaps/google-news_{suffix}.xml":
            latest = edition[: site.latest_count or NEWS_COUNT]
            dirt = site.listed_dirt(oid) if lang == "ru" else []
            return site.xml(
                "urlset.xml",
                site.last_modified(latest),
                urls=latest,
                news=True,
                publication="Kazinform",
                dirt=dirt,
            )
    listing = re.fullmatch(r"/(ru|kz|en)/lenta(?:/(\d+))?", path)
    if listing:
        lang = {"ru": "ru", "kz": "kk", "en": "en"}[listing.group(1)]
        edition = [a for a in arts if a.language == lang]
        page = _int(listing.group(2))
        return _listing(
            site,
            "listing_kazinform.html",
            edition,
            page,
            base=base,
            prefix=listing.group(1),
            lang=lang,
        )
    return None


def _informburo(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    """informburo.kz: RSS, a sitemap index (?type=articles&page=n parts), /novosti pages."""
    arts = site.outlet_articles(oid)
    base = get_outlet(oid).base_url
    if path == "/rss":
        return site.feed(oid, arts, self_url=f"{base}/rss", link=base, with_dirt=True)
    if path == "/sitemap.xml":
        kind, page = _query(query, "type"), _int(_query(query, "page"))
        if kind is None:
            return _parts_index(site, arts, lambda n: f"{base}/sitemap.xml?type=articles&page={n}")
        chosen = _part(arts, page, site.part_size) if kind == "articles" else None
        if chosen is None:
            return None
        return site.xml("urlset.xml", site.last_modified(chosen), urls=chosen, lastmod=True)
    if path == "/novosti":
        page = _int(_query(query, "page"))
        return _listing(site, "listing_informburo.html", arts, page, base=base)
    return None


def _vlast(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    """vlast.kz: RSS and the /novosti/ listing (?page=n)."""
    arts = site.outlet_articles(oid)
    base = get_outlet(oid).base_url
    if path == "/rss":
        return site.feed(oid, arts, self_url=f"{base}/rss", link=base)
    if path == "/novosti/":
        page = _int(_query(query, "page"))
        return _listing(site, "listing_vlast.html", arts, page, base=base)
    return None


def _zakon(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    """www.zakon.kz: RSS, a sitemap index of numbered parts (and a pages part), /news/ (?p=n)."""
    arts = site.outlet_articles(oid)
    base = get_outlet(oid).base_url
    if path == "/rss.xml":
        return site.feed(oid, arts, self_url=f"{base}/rss.xml", link=base, with_dirt=True)
    if path == "/sitemap/index.xml":
        chunks = _chunks(arts, site.part_size)
        children = [(f"{base}/sitemap/pages.xml", None)] + [
            (f"{base}/sitemap/{n}.xml", site.last_modified(part))
            for n, part in enumerate(chunks, start=1)
        ]
        return site.xml("sitemap_index.xml", site.last_modified(arts), sitemaps=children)
    if path == "/sitemap/pages.xml":
        return site.xml("sitemap_zakon_pages.xml", site.last_modified(arts), base=base)
    part = re.fullmatch(r"/sitemap/(\d+)\.xml", path)
    chosen = _part(arts, int(part.group(1)), site.part_size) if part else None
    if chosen is not None:
        return site.xml("urlset.xml", site.last_modified(chosen), urls=chosen, changefreq="daily")
    if path == "/news/":
        page = _int(_query(query, "p"))
        return _listing(site, "listing_zakon.html", arts, page, base=base)
    return None


def _kaztag(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    """kaztag.kz: the /ru/news/ Bitrix list (?PAGEN_1=n) and its RSS."""
    arts = site.outlet_articles(oid)
    base = get_outlet(oid).base_url
    if path == "/ru/news/rss/":
        return site.feed(oid, arts, self_url=f"{base}{path}", link=f"{base}/ru/news/")
    if path == "/ru/news/":
        page = _int(_query(query, "PAGEN_1"))
        return _listing(site, "listing_kaztag.html", arts, page, base=base)
    return None


def _eurasianet(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    """eurasianet.org: the site and Kazakhstan region feeds, a Drupal sitemap (?page=n parts)."""
    arts = site.outlet_articles(oid)
    base = get_outlet(oid).base_url
    if path == "/region/kazakhstan/feed":
        chosen = [a for a in arts if a.section == "Kazakhstan"]
        return site.feed(oid, chosen, self_url=f"{base}{path}", link=f"{base}/region/kazakhstan")
    if path == "/feed":
        return site.feed(oid, arts, self_url=f"{base}/feed", link=base)
    if path == "/sitemap.xml":
        page = _query(query, "page")
        if page is None:
            return _parts_index(site, arts, lambda n: f"{base}/sitemap.xml?page={n}")
        chosen = _part(arts, _int(page, 0), site.part_size)
        if chosen is None:
            return None
        return site.xml("urlset.xml", site.last_modified(chosen), urls=chosen, changefreq="weekly")
    return None


def _thediplomat(site: ReplaySite, oid: str, path: str, query: dict) -> Rendered:
    """thediplomat.com: the Central Asia region feed and listing (/page/n/)."""
    arts = site.outlet_articles(oid)
    base = get_outlet(oid).base_url
    region = "/regions/central-asia/"
    if path == f"{region}feed/":
        return site.feed(
            oid, arts, self_url=f"{base}{path}", link=f"{base}{region}", with_dirt=True
        )
    listing = re.fullmatch(rf"{region}(?:page/(\d+)/)?", path)
    if listing:
        page = _int(listing.group(1))
        return _listing(site, "listing_thediplomat.html", arts, page, base=base)
    return None


DISCOVERY: dict[str, Callable[..., Rendered]] = {
    "tengrinews_ru": _tengrinews,
    "tengrinews_kk": _tengrinews,
    "kazinform": _kazinform,
    "informburo": _informburo,
    "vlast": _vlast,
    "zakon": _zakon,
    "kaztag": _kaztag,
    "eurasianet": _eurasianet,
    "thediplomat": _thediplomat,
}
