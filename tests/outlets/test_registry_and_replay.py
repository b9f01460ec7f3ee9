"""Issue #17's outlets: registry entries, notes, rules, and the replay serving each in its layout.

Offline: the registry and rules files, and `ReplaySite.response_for` (no server, no crawl).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import feedparser
import pytest
from scrapy.utils.sitemap import Sitemap

from enrich.extract.rules import load_rules
from spiders.canonical import canonicalize
from spiders.registry import get_outlet, load_outlets
from spiders.replay.routes_kz import DISCOVERY

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTES = REPO_ROOT / "docs" / "outlets"
#: The outlets issue #17 added (the replay routes them in registry order).
NEW_OUTLETS = list(DISCOVERY)


def test_registry_reaches_the_issues_coverage() -> None:
    outlets = load_outlets()
    assert len(outlets) >= 15
    ru_kk = [o.id for o in outlets if {"ru", "kk"} & set(o.languages)]
    assert len(ru_kk) >= 6, ru_kk
    assert [o.id for o in outlets][-len(NEW_OUTLETS) :] == NEW_OUTLETS
    assert {lang for o in outlets for lang in o.languages} == {"en", "ru", "kk"}


@pytest.mark.parametrize("outlet_id", NEW_OUTLETS)
def test_entry_is_complete_and_documented(outlet_id: str) -> None:
    outlet = get_outlet(outlet_id)
    assert outlet.base_url.startswith("https://") and outlet.host in outlet.allowed_domains
    assert outlet.feeds or outlet.sitemaps or outlet.listings
    assert 0 < outlet.expected_cadence_hours <= 24
    notes = NOTES / f"{outlet_id}.md"
    assert notes.is_file(), f"no outlet notes at {notes}"
    text = notes.read_text(encoding="utf-8")
    # the notes say where each finding comes from, and list what the entry marks unconfirmed
    assert "## Sources" in text and "http" in text
    assert "## Unconfirmed" in text
    for part in outlet.unconfirmed:
        assert f"`{part}`" in text.split("## Unconfirmed", 1)[1], (outlet_id, part)
    rules = load_rules().outlets[outlet_id]
    assert rules.title and rules.drop, "extraction rules must name the title and the page chrome"
    for url in (outlet.base_url + "/", *(f.url for f in outlet.feeds)):
        assert load_rules().outlet_for_url(url) == outlet_id


@pytest.mark.parametrize("outlet_id", NEW_OUTLETS)
def test_article_patterns_take_articles_and_leave_discovery_pages(outlet_id: str, site) -> None:
    outlet = get_outlet(outlet_id)
    articles = site.article_urls(outlet_id)
    assert articles and all(outlet.is_article_url(canonicalize(u)) for u in articles)
    not_articles = [outlet.base_url + "/", *(f.url for f in outlet.feeds)]
    not_articles += [s.url for s in outlet.sitemaps] + [li.url for li in outlet.listings]
    for url in not_articles:
        assert not outlet.is_article_url(canonicalize(url)), url


def test_every_new_outlet_has_security_and_unrelated_stories_in_its_languages(site) -> None:
    for outlet_id in NEW_OUTLETS:
        arts = [a for a in site.articles if a.outlet == outlet_id]
        assert any(a.security for a in arts) and any(not a.security for a in arts), outlet_id
        assert {a.language for a in arts} == set(get_outlet(outlet_id).languages), outlet_id
    assert len([a for a in site.articles if a.outlet in NEW_OUTLETS]) >= 30


def test_incidents_are_reported_across_outlets_and_languages(site) -> None:
    """The stories work needs the same incidents from several outlets, in several languages."""
    incidents = {
        "atyrau-2011": ("2011-10-31", "2011-11-01"),
        "zhanaozen-2011": ("2011-12-16", "2011-12-18"),
        "aktobe-2016": ("2016-06-05", "2016-06-09"),
        "january-2022": ("2022-01-02", "2022-01-16"),
    }
    for name, (start, end) in incidents.items():
        reports = [
            a
            for a in site.articles
            if a.security and start <= a.published.date().isoformat() <= end
        ]
        outlets = {a.outlet for a in reports}
        assert len(outlets & set(NEW_OUTLETS)) >= 2, (name, outlets)
        assert len({a.language for a in reports}) >= 2, name


def _feed(site, url: str):
    response = site.response_for(url)
    assert response.status == 200, url
    parsed = feedparser.parse(response.body)
    assert not parsed.bozo, (url, parsed.get("bozo_exception"))
    return parsed


@pytest.mark.parametrize("outlet_id", NEW_OUTLETS)
def test_feeds_list_the_outlets_articles_with_dates(outlet_id: str, site) -> None:
    outlet = get_outlet(outlet_id)
    ours = {canonicalize(u) for u in site.article_urls(outlet_id)}
    listed: set[str] = set()
    for feed in outlet.feeds:
        parsed = _feed(site, feed.url)
        assert parsed.entries, feed.url
        for entry in parsed.entries:
            assert entry.get("published_parsed"), (feed.url, entry.get("link"))
            listed.add(canonicalize(entry.link))
    assert listed & ours


def test_kazinform_serves_one_feed_and_news_sitemap_per_edition(site) -> None:
    languages = {}
    for name in ("rus", "kaz", "eng"):
        parsed = _feed(site, f"https://www.inform.kz/rss/{name}.xml")
        languages[name] = {canonicalize(e.link).split("/")[3] for e in parsed.entries}
    assert languages == {"rus": {"ru"}, "kaz": {"kz"}, "eng": {"en"}}
    news = site.response_for("https://www.inform.kz/sitemaps/google-news_kz.xml").body.decode()
    assert "<news:language>kk</news:language>" in news
    ru_news = site.response_for("https://www.inform.kz/sitemaps/google-news_ru.xml").body.decode()
    assert "_a2909876" in ru_news  # the pre-2023 URL, redirected to today's
    old = site.response_for(
        "https://www.inform.kz/ru/v-aktobe-vveden-krasnyy-uroven-terroristicheskoy-opasnosti_a2909876"
    )
    assert old.status == 301 and old.headers["Location"].endswith("-3b8f21")


def _sitemap(site, url: str) -> Sitemap:
    response = site.response_for(url)
    assert response.status == 200, url
    body = response.body
    return Sitemap(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)


@pytest.mark.parametrize(
    ("index_url", "child_fragment"),
    [
        ("https://tengrinews.kz/sitemap-index.xml", "/sitemap-news-"),
        ("https://kaz.tengrinews.kz/kk-sitemap-index.xml", "/kk-sitemap-news-"),
        ("https://informburo.kz/sitemap.xml", "?type=articles&page="),
        ("https://www.zakon.kz/sitemap/index.xml", "/sitemap/1.xml"),
        ("https://eurasianet.org/sitemap.xml", "/sitemap.xml?page="),
    ],
)
def test_sitemap_indexes_reach_every_article(index_url: str, child_fragment: str, site) -> None:
    index = _sitemap(site, index_url)
    assert index.type == "sitemapindex"
    children = [child["loc"] for child in index]
    assert any(child_fragment in loc for loc in children)
    outlet = get_outlet(load_rules().outlet_for_url(index_url))
    found = {
        canonicalize(entry["loc"])
        for loc in children
        for entry in _sitemap(site, loc)
        if outlet.owns_url(canonicalize(entry["loc"]))
    }
    assert {canonicalize(u) for u in site.article_urls(outlet.id)} <= found


def test_tengrinews_sitemap_carries_a_glued_sister_site_url(site) -> None:
    """Real Tengrinews sitemaps hold locs like https://tengrinews.kzhttps://tengrisport.kz/..."""
    index = _sitemap(site, "https://tengrinews.kz/sitemap-index.xml")
    locs = [e["loc"] for child in index for e in _sitemap(site, child["loc"])]
    glued = [loc for loc in locs if loc.startswith("https://tengrinews.kzhttps://")]
    assert len(glued) == 1 and not get_outlet("tengrinews_ru").owns_url(canonicalize(glued[0]))


@pytest.mark.parametrize(
    ("first", "second", "outlet_id"),
    [
        ("https://tengrinews.kz/news/", "https://tengrinews.kz/news/page/2/", "tengrinews_ru"),
        ("https://informburo.kz/novosti", "https://informburo.kz/novosti?page=2", "informburo"),
        ("https://vlast.kz/novosti/", "https://vlast.kz/novosti/?page=2", "vlast"),
        ("https://www.zakon.kz/news/", "https://www.zakon.kz/news/?p=2", "zakon"),
        ("https://kaztag.kz/ru/news/", "https://kaztag.kz/ru/news/?PAGEN_1=2", "kaztag"),
        (
            "https://thediplomat.com/regions/central-asia/",
            "https://thediplomat.com/regions/central-asia/page/2/",
            "thediplomat",
        ),
    ],
)
def test_listings_paginate_with_the_registry_selectors(first, second, outlet_id, site) -> None:
    from scrapy.http import HtmlResponse

    listing = get_outlet(outlet_id).listings[0]
    response = HtmlResponse(first, body=site.response_for(first).body, encoding="utf-8")
    links = [response.urljoin(h) for h in response.css(listing.link_selector).getall()]
    assert len(links) == 2 and all(
        get_outlet(outlet_id).is_article_url(canonicalize(u)) for u in links
    )
    assert response.urljoin(response.css(listing.next_selector).get()) == second


@pytest.mark.parametrize("outlet_id", NEW_OUTLETS)
def test_robots_and_quiet_outlets(outlet_id: str, shared_dir: Path) -> None:
    from spiders.replay.site import load_site

    outlet = get_outlet(outlet_id)
    quiet = load_site(shared_dir, quiet_outlets=[outlet_id])
    assert quiet.response_for(f"{outlet.base_url}/robots.txt").status == 200
    for feed in outlet.feeds:
        assert [e for e in feedparser.parse(quiet.response_for(feed.url).body).entries] == []
    assert quiet.response_for(quiet.article_urls(outlet_id)[0]).status == 200


def test_article_pages_carry_their_outlets_dirt(site) -> None:
    """Each layout's chrome is on every page (so the extraction rules have work to do)."""
    expected = {
        "tengrinews_ru": ["ПОДЕЛИТЬСЯ", "tn-comment-list", "Читайте также:"],
        "tengrinews_kk": ["БӨЛІСУ", "tn-comment-list", "Тағы оқыңыз:"],
        "kazinform": ['name="article:published_time"', "article__readmore"],
        "informburo": ["article-subscribe", "Самое читаемое"],
        "vlast": ["comments-block", "Поддержать Власть"],
        "zakon": ["readAlso", "Комментарии (2)"],
        "kaztag": ["Источник: КазТАГ", "/bitrix/"],
        "eurasianet": ["Skip to main content", "Sign up for our weekly newsletter"],
        "thediplomat": ["tda-gated-body", '"@type": "Person"', "td-author-bio"],
    }
    for article in site.articles:
        if article.outlet not in expected:
            continue
        html = site.response_for(article.url).body.decode("utf-8")
        assert f'href="{article.url}"' in html  # rel=canonical
        for marker in expected[article.outlet]:
            assert marker in html, (article.id, marker)
