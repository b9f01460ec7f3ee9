"""Golden tests per outlet on the offline replay's article pages (spiders/replay).

``spiders/replay/articles.yaml`` holds what an extractor should find on each page: exact
title, date, authors and publication fields, and the first and last sentence of the body.
The pages carry the outlets' real noise (Jamestown's publication line and "Placeholder
canvas", Global Voices' doubled caption and comment form, The Moscow Times' donation appeal),
which must be gone from the text.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from enrich.extract import ExtractOptions, extract_page

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTICLES_YAML = REPO_ROOT / "spiders" / "replay" / "articles.yaml"
ARTICLE_IDS = [a["id"] for a in yaml.safe_load(ARTICLES_YAML.read_text("utf-8"))["articles"]]
OUTLETS = sorted(
    {a["outlet"] for a in yaml.safe_load(ARTICLES_YAML.read_text("utf-8"))["articles"]}
)
# Page chrome of the replay templates that must never reach the text.
CHROME = [
    "A Message from The Moscow Times",
    "Dear readers",
    "Join the conversation",
    "Authors, please log in",
    "reviewed by a moderator",
    "Placeholder canvas",
    "Publication:",
    "Sign up for the",
    "Support The Moscow Times",
    "Read more",
]


@pytest.fixture(scope="module")
def site(shared_dir: Path):
    """The offline replay site, its samples read from the shared folder."""
    from spiders.replay.site import load_site

    return load_site(shared_dir)


@pytest.fixture(scope="module")
def records(site) -> dict[str, tuple]:
    """Each replay article extracted once: id -> (article, record)."""
    result = {}
    for article in site.articles:
        body = site.response_for(article.url).body.decode("utf-8")
        result[article.id] = (article, extract_page({"url": article.url, "html": body}))
    return result


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_metadata_is_exact(records: dict, article_id: str) -> None:
    article, record = records[article_id]
    expected = article.expected()
    assert "error" not in record, record
    assert record["outlet"] == expected["outlet"]  # inferred from the URL host
    assert record["title"] == expected["title"]
    assert record["authors"] == expected["authors"]
    assert datetime.fromisoformat(record["published_at"]) == article.published
    assert record["published_at"] == expected["published"]
    assert record["language"] == expected["language"]
    assert record["section"] == expected["section"]
    assert record["subtitle"] == expected["subtitle"]
    for key in ("publication", "volume", "issue"):
        assert record[key] == expected[key], key
    assert record["canonical_url"] == article.url


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_text_starts_and_ends_where_the_article_does(records: dict, article_id: str) -> None:
    article, record = records[article_id]
    expected = article.expected()
    assert record["text"].startswith(expected["first_sentence"])
    assert record["text"].endswith(expected["last_sentence"])
    assert record["text"].split("\n\n") == article.text_paragraphs
    assert record["word_count"] == len(record["text"].split())


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_noise_is_gone(records: dict, article_id: str) -> None:
    article, record = records[article_id]
    for noise in (*article.noise, *article.comments, *CHROME):
        assert noise not in record["text"], noise
    assert record["title"] not in record["text"].split("\n\n")


def test_jamestown_publication_line_becomes_fields(records: dict) -> None:
    _, record = records["jt-tm-2011-west-kazakhstan"]
    assert (record["publication"], record["volume"], record["issue"]) == (
        "Terrorism Monitor",
        9,
        29,
    )
    _, record = records["jt-edm-2013-jihadist-movement"]
    assert (record["publication"], record["volume"], record["issue"]) == (
        "Eurasia Daily Monitor",
        10,
        97,
    )
    assert "Kazakh terrorist group Jund al-Khilafah (Source: Kavkaz Center)" in record["captions"]


def test_global_voices_caption_kept_once_as_caption(records: dict) -> None:
    _, record = records["gv-2011-atyrau-blasts"]
    caption = "Atyrau, Kazakhstan. Image by Flickr user hellium666 (CC BY-NC 2.0)."
    assert record["captions"].count(caption) == 1
    assert "hellium666" not in record["text"]


def test_moscow_times_donation_appeal_and_caption(records: dict) -> None:
    _, record = records["mt-2011-insurgency"]
    assert "undesirable" not in record["text"]
    assert record["captions"] == ["Illustration. Archive"]


@pytest.mark.parametrize("outlet", OUTLETS)
def test_outlet_given_explicitly_gives_the_same_record(site, records: dict, outlet: str) -> None:
    article = next(a for a in site.articles if a.outlet == outlet)
    body = site.response_for(article.url).body.decode("utf-8")
    record = extract_page({"url": article.url, "html": body, "outlet": outlet})
    assert record == records[article.id][1]


def test_rules_make_the_difference(site) -> None:
    """Without the outlet rules, the generic extractor keeps noise the rules remove."""
    noisy = 0
    for article in site.articles:
        body = site.response_for(article.url).body.decode("utf-8")
        record = extract_page({"url": article.url, "html": body}, ExtractOptions(apply_rules=False))
        text = record.get("text", "")
        noisy += any(n in text for n in (*article.noise, *CHROME))
    assert noisy > 0


def test_crawl_batch_line_fields_pass_through(site) -> None:
    article = site.articles[0]
    page = {
        "url": article.url + "?utm_source=feed",
        "canonical_url": article.url,
        "outlet": article.outlet,
        "fetched_at": "2026-11-21T03:00:00Z",
        "status": 200,
        "content_type": "text/html; charset=utf-8",
        "html": site.response_for(article.url).body.decode("utf-8"),
        "discovered_via": "feed",
        "feed_title": article.title,
        "feed_published": "Wed, 09 Nov 2011 14:42:00 +0000",
    }
    record = extract_page(page)
    assert record["url"] == page["url"]
    assert record["canonical_url"] == article.url
    assert record["fetched_at"] == "2026-11-21T03:00:00+00:00"
    assert record["discovered_via"] == "feed"
    assert record["published_at"] == article.expected()["published"]  # page beats feed


def test_replay_dirt_pages(site, run_cli) -> None:
    """The replay's PDF is refused; its 6 MiB page is refused under a lower size limit."""
    pdf = next(d for d in site.dirt if d.kind == "pdf")
    large = next(d for d in site.dirt if d.kind == "large")
    pdf_body = site.response_for(pdf.url).body.decode("latin-1")
    large_body = site.response_for(large.url).body.decode("utf-8")
    assert extract_page({"url": pdf.url, "html": pdf_body})["error"].startswith("binary")
    small = ExtractOptions(max_page_bytes=1024 * 1024)
    assert extract_page({"url": large.url, "html": large_body}, small)["error"].startswith(
        "page too large"
    )
    lines = [
        json.dumps({"url": u, "html": site.response_for(u).body.decode("utf-8")})
        for u in site.article_urls("jamestown")
    ]
    rc, out, _ = run_cli(("\n".join(lines) + "\n").encode("utf-8"))
    assert rc == 0
    assert [r["url"] for r in out] == site.article_urls("jamestown")
    assert all(r["publication"] for r in out)
