"""The replay's content: articles, samples rendered from ../shared, expected metadata, dirt."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import feedparser
import pytest

from spiders.registry import load_outlets
from spiders.replay.site import load_site


@pytest.fixture(scope="module")
def site(shared_dir: Path):
    return load_site(shared_dir)


def test_every_outlet_has_articles_and_enough_in_total(site) -> None:
    per_outlet = Counter(a.outlet for a in site.articles)
    assert set(per_outlet) == {o.id for o in load_outlets()}
    written = [a for a in site.articles if not a.sample]
    assert len(written) >= 25
    assert {a.language for a in site.articles} == {"en", "ru", "kk"}
    assert len(site.article_urls()) == len(set(site.article_urls()))


def test_samples_are_rendered_from_shared_with_their_noise(site) -> None:
    samples = [a for a in site.articles if a.sample]
    assert len(samples) == 5
    gv = site.article(
        "https://globalvoices.org/2011/11/03/kazakhstan-blasts-spark-new-fears-over-the-rise-of-extremism/"
    )
    html = site.response_for(gv.url).body.decode()
    assert html.count("Image by Flickr user hellium666") >= 2
    assert "Join the conversation" in html
    edm = next(a for a in samples if a.issue == 97)
    html = site.response_for(edm.url).body.decode()
    assert "Placeholder canvas" in html
    assert "Publication: Eurasia Daily Monitor Volume: 10 Issue: 97" in html


def test_expected_metadata_matches_the_page(site) -> None:
    for article in site.articles:
        response = site.response_for(article.url)
        assert response.status == 200, article.url
        html = response.body.decode()
        expected = article.expected()
        assert expected["first_sentence"] and expected["last_sentence"]
        assert article.text_paragraphs[0].startswith(expected["first_sentence"])
        assert article.text_paragraphs[-1].endswith(expected["last_sentence"])
        assert f'href="{article.url}"' in html  # rel=canonical


def test_moscowtimes_pages_carry_the_donation_banner(site) -> None:
    html = site.response_for(site.article_urls("moscowtimes")[0]).body.decode()
    assert "A Message from The Moscow Times" in html


def test_feeds_and_sitemaps_list_articles_and_dirt(site) -> None:
    feed = feedparser.parse(site.response_for("https://katehon.com/en/rss.xml").body)
    assert feed.bozo  # the malformed feed
    assert len([e for e in feed.entries if e.get("link")]) == 4
    latest = site.response_for("https://www.rferl.org/sitemap_8_latest.xml.gz")
    xml = gzip.decompress(latest.body).decode()
    assert "/amp/a/" in xml and "33000001.html" in xml


def test_conditional_requests_get_304(site) -> None:
    first = site.response_for("https://www.themoscowtimes.com/rss/news")
    again = site.response_for(
        "https://www.themoscowtimes.com/rss/news", {"If-None-Match": first.headers["ETag"]}
    )
    assert again.status == 304 and again.body == b""
    since = site.response_for(
        "https://www.themoscowtimes.com/rss/news",
        {"If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert since.status == 304


def test_quiet_outlets_show_no_articles(shared_dir: Path) -> None:
    quiet = load_site(shared_dir, quiet_outlets=["katehon"])
    feed = feedparser.parse(quiet.response_for("https://katehon.com/en/rss.xml").body)
    assert [e for e in feed.entries if e.get("link")] == []
    assert quiet.response_for(quiet.article_urls("katehon")[0]).status == 200


def test_dirt_responses(site) -> None:
    redirect = site.response_for(
        "https://www.themoscowtimes.com/2016/06/06/gunmen-attack-gun-shops-in-aktobe-a53180"
    )
    assert redirect.status == 301 and redirect.headers["Location"].endswith("-a53180")
    assert site.response_for("https://www.rferl.org/a/x/33000001.html").status == 404
    large = site.response_for(
        "https://globalvoices.org/2026/11/16/photo-essay-winter-on-the-kazakh-steppe/"
    )
    assert len(large.body) > 6 * 1024 * 1024
    pdf = site.response_for(
        "https://jamestown.org/program/eurasia-daily-monitor-volume-21-issue-35-pdf/"
    )
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert "Disallow: /a/preview/" in site.robots["rus.azattyq.org"]
