"""Golden tests of issue #17's outlets (Kazakhstan's media, Eurasianet, The Diplomat).

``spiders/replay/articles_kz.yaml`` holds what extraction must find on each replayed page:
the exact title, subtitle, authors, date with its zone, section and language, and the body
paragraphs. The pages carry each outlet's chrome and inline promotions (Tengrinews' Telegram
and WhatsApp lines, Vlast's typo note, The Diplomat's subscription appeal in the body, ...),
which the outlet's rules in ``enrich/extract/outlet_rules.yaml`` must remove.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from enrich.extract import ExtractOptions, extract_page
from spiders.replay.site import ARTICLE_FILES

KZ_ARTICLES = yaml.safe_load(Path(ARTICLE_FILES[1]).read_text("utf-8"))["articles"]
ARTICLE_IDS = [a["id"] for a in KZ_ARTICLES]
OUTLETS = list(dict.fromkeys(a["outlet"] for a in KZ_ARTICLES))
# Page chrome of these outlets' templates that must never reach the text.
CHROME = [
    "ПОДЕЛИТЬСЯ",
    "БӨЛІСУ",
    "Читайте также",
    "Тағы оқыңыз",
    "Куда смотрят силовые структуры",
    "Алла сақтасын",
    "При полном или частичном использовании",
    "Подписывайтесь",
    "Telegram",
    "WhatsApp",
    "Ctrl+Enter",
    "Поддержать",
    "Источник: КазТАГ",
    "Skip to main content",
    "Sign up for our weekly newsletter",
    "Enjoying this article?",
    "Subscribe for unlimited access",
    "Самое читаемое",
    "Комментарии",
]


@pytest.fixture(scope="module")
def site(shared_dir: Path):
    from spiders.replay.site import load_site

    return load_site(shared_dir)


def _html(site, url: str) -> str:
    return site.response_for(url).body.decode("utf-8")


@pytest.fixture(scope="module")
def records(site) -> dict[str, tuple]:
    """Each of these articles extracted once: id -> (article, record)."""
    by_id = {a.id: a for a in site.articles}
    return {
        i: (by_id[i], extract_page({"url": by_id[i].url, "html": _html(site, by_id[i].url)}))
        for i in ARTICLE_IDS
    }


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_metadata_is_exact(records: dict, article_id: str) -> None:
    article, record = records[article_id]
    expected = article.expected()
    assert "error" not in record, record
    assert record["outlet"] == expected["outlet"]  # from the host (kaz.tengrinews.kz: kk)
    for key in ("title", "subtitle", "authors", "language", "section"):
        assert record[key] == expected[key], key
    assert record["published_at"] == expected["published"]
    assert datetime.fromisoformat(record["published_at"]) == article.published
    assert record["canonical_url"] == article.url


@pytest.mark.parametrize("article_id", ARTICLE_IDS)
def test_text_is_the_article_and_nothing_else(records: dict, article_id: str) -> None:
    article, record = records[article_id]
    assert record["text"].split("\n\n") == article.text_paragraphs
    assert record["text"].startswith(article.first_sentence)
    assert record["text"].endswith(article.last_sentence)
    for noise in (*article.noise, *CHROME):
        assert noise not in record["text"], noise
    assert record["title"] not in record["text"].split("\n\n")
    if article.subtitle:
        assert article.subtitle not in record["text"]


@pytest.mark.parametrize("outlet", OUTLETS)
def test_photo_credits_are_captions(records: dict, outlet: str) -> None:
    for article, record in records.values():
        if article.outlet == outlet:
            assert record["captions"], article.id
            assert not any(c in record["text"] for c in record["captions"])


@pytest.mark.parametrize("outlet", OUTLETS)
def test_the_outlets_rules_make_the_difference(site, records: dict, outlet: str) -> None:
    """Without the rules, each outlet loses something: chrome in the text or a wrong field."""
    worse = 0
    for article, record in records.values():
        if article.outlet != outlet:
            continue
        bare = extract_page(
            {"url": article.url, "html": _html(site, article.url)},
            ExtractOptions(apply_rules=False),
        )
        fields = ("title", "subtitle", "authors", "section", "text")
        worse += any(bare.get(k) != record[k] for k in fields)
    assert worse, f"the rules of {outlet} change nothing"


@pytest.mark.parametrize("outlet", OUTLETS)
def test_outlet_given_explicitly_gives_the_same_record(site, records: dict, outlet: str) -> None:
    article, record = next(v for v in records.values() if v[0].outlet == outlet)
    page = {"url": article.url, "html": _html(site, article.url), "outlet": outlet}
    assert extract_page(page) == record


def test_feed_date_never_beats_the_page(site, records: dict) -> None:
    """Kazinform's date is a <meta name=...>: still preferred to a feed's rounded date."""
    article, record = records["kzinf-ru-2016-aktobe-krasnyy"]
    page = {"url": article.url, "html": _html(site, article.url)}
    page["feed_published"] = "Mon, 06 Jun 2016 00:00:00 +0000"
    assert extract_page(page)["published_at"] == record["published_at"]
