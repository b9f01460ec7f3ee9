"""Unit tests of the extraction pieces: dates, language, rules, cleaning, a real outlet page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from enrich.extract import content_hash, extract_page
from enrich.extract.cleaning import clean_paragraphs
from enrich.extract.dates import date_from_url, to_iso
from enrich.extract.language import cyrillic_language, detect_language
from enrich.extract.rules import load_rules

BODY = (
    "<p>Security services in Kazakhstan detained three men in Atyrau on Monday, officials said."
    " The men are suspected of planning attacks on police stations in the west of the country,"
    " according to a statement of the National Security Committee.</p>"
) * 3
KK_TEXT = (
    "Ақтөбе қаласында белгісіз қарулы адамдар екі қару-жарақ дүкеніне және Ұлттық ұланның "
    "әскери бөліміне шабуыл жасады. Ішкі істер министрлігінің мәліметінше, атыс кезінде "
    "бірнеше адам қаза тапты. Ұлттық қауіпсіздік комитеті мәлімдеме жасады."
)
RU_TEXT = (
    "В Актобе неизвестные вооружённые люди напали на два оружейных магазина и воинскую часть "
    "Национальной гвардии. По данным МВД, в перестрелке погибли несколько человек. Комитет "
    "национальной безопасности сделал заявление."
)


def _page(head: str = "", body: str = BODY, url: str = "https://example.org/news/1") -> dict:
    html = f"<html lang='en'><head><title>T</title>{head}</head><body><article><h1>Title</h1>"
    return {"url": url, "html": html + body + "</article></body></html>"}


# ------------------------------------------------------------------------------------ dates
def test_zoneless_dates_are_taken_as_utc() -> None:
    assert to_iso("2011-11-09 10:00") == "2011-11-09T10:00:00+00:00"
    assert to_iso("2011-11-09") == "2011-11-09T00:00:00+00:00"
    assert to_iso("Wed, 09 Nov 2011 14:00:00 +0300") == "2011-11-09T14:00:00+03:00"
    assert to_iso("not a date") is None
    assert to_iso("1850-01-01") is None  # implausible


def test_date_from_url() -> None:
    url = "https://www.themoscowtimes.com/2016/07/19/islamist-gunman-caught-a54649"
    assert date_from_url(url) == "2016-07-19T00:00:00+00:00"
    assert date_from_url("https://jamestown.org/program/x/") is None


def test_date_order_meta_then_jsonld_then_feed_then_url() -> None:
    meta = '<meta property="article:published_time" content="2020-01-02T03:04:05+06:00">'
    jsonld = (
        '<script type="application/ld+json">{"@type": "NewsArticle",'
        ' "datePublished": "2020-02-02T10:00:00Z", "dateModified": "2020-02-03T10:00:00Z"}'
        "</script>"
    )
    url = "https://example.org/2020/04/04/story"
    feed = "Fri, 03 Mar 2020 12:00:00 GMT"
    both = extract_page({**_page(meta + jsonld, url=url), "feed_published": feed})
    assert both["published_at"] == "2020-01-02T03:04:05+06:00"
    ld = extract_page({**_page(jsonld, url=url), "feed_published": feed})
    assert ld["published_at"] == "2020-02-02T10:00:00+00:00"
    assert ld["modified_at"] == "2020-02-03T10:00:00+00:00"
    fed = extract_page({**_page(url=url), "feed_published": feed})
    assert fed["published_at"] == "2020-03-03T12:00:00+00:00"
    assert extract_page(_page(url=url))["published_at"] == "2020-04-04T00:00:00+00:00"
    assert extract_page(_page())["published_at"] is None


# --------------------------------------------------------------------------------- language
def test_kazakh_letters_separate_kazakh_from_russian() -> None:
    assert cyrillic_language(KK_TEXT) == "kk"
    assert cyrillic_language(RU_TEXT) == "ru"
    assert cyrillic_language("An English sentence.") is None


def test_language_checked_against_declared() -> None:
    assert detect_language(KK_TEXT, ["ru"]) == "kk"  # letters beat a wrong lang attribute
    assert detect_language(RU_TEXT, ["kk"]) == "ru"
    assert detect_language(RU_TEXT, []) == "ru"
    assert detect_language(KK_TEXT, []) == "kk"
    english = json.loads(json.dumps(BODY)).replace("<p>", "").replace("</p>", " ")
    assert detect_language(english, ["en"]) == "en"
    assert detect_language(english, ["ru"]) == "en"  # sure of English, nothing for Russian


def test_kazakh_page_record() -> None:
    page = {
        "url": "https://www.azattyq.org/a/x/1.html",
        "html": "<html lang='kk'><body><h1>Шабуыл</h1>"
        + f"<div class='wsw'><p>{KK_TEXT}</p><p>{KK_TEXT}</p></div></body></html>",
    }
    record = extract_page(page)
    assert record["outlet"] == "azattyq_kk"
    assert record["language"] == "kk"


# ------------------------------------------------------------------------------------ rules
def test_outlet_inferred_from_host_most_specific_wins() -> None:
    rules = load_rules()
    assert rules.outlet_for_url("https://rus.azattyq.org/a/x/1.html") == "azattyq_ru"
    assert rules.outlet_for_url("https://www.azattyq.org/a/x/1.html") == "azattyq_kk"
    assert rules.outlet_for_url("https://www.themoscowtimes.com/2020/01/01/x") == "moscowtimes"
    assert rules.outlet_for_url("https://jamestown.org/program/x/") == "jamestown"
    assert rules.outlet_for_url("https://example.org/") is None
    assert rules.outlet_for_url(None) is None


def test_every_registry_outlet_has_rules() -> None:
    ids = {"moscowtimes", "jamestown", "globalvoices", "katehon", "rferl", "azattyq_kk"}
    assert ids | {"azattyq_ru"} <= set(load_rules().outlets)


def test_bad_rules_file_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: x\noutlets:\n  a:\n    drop: ['//div[']\n", encoding="utf-8")
    with pytest.raises(ValidationError):
        load_rules(bad)
    bad.write_text("version: x\noutlets:\n  a:\n    unknown_key: []\n", encoding="utf-8")
    with pytest.raises(ValidationError):
        load_rules(bad)


def test_paragraph_rules() -> None:
    rules = load_rules().for_outlet("globalvoices")
    caption = "Atyrau, Kazakhstan. Image by Flickr user hellium666 (CC BY-NC 2.0)."
    result = clean_paragraphs(
        ["Title", "First.", caption, caption, "Second.", "Second.", "Join the conversation", "x"],
        rules,
        title="Title",
        captions=[],
    )
    assert result.paragraphs == ["First.", "Second."]
    assert result.captions == [caption]
    jt = clean_paragraphs(
        ["Publication: Terrorism Monitor Volume: 9 Issue: 29", "Placeholder canvas", "Body."],
        load_rules().for_outlet("jamestown"),
        title=None,
        captions=[],
    )
    assert (jt.publication, jt.volume, jt.issue, jt.paragraphs) == (
        "Terrorism Monitor",
        9,
        29,
        ["Body."],
    )


def test_unknown_outlet_gets_default_rules() -> None:
    record = extract_page({**_page(), "outlet": "not-in-rules"})
    assert record["outlet"] == "not-in-rules"
    assert "error" not in record


# ------------------------------------------------------------------------------------ record
def test_record_fields_match_the_contract() -> None:
    record = extract_page(_page())
    assert set(record) == {
        "url",
        "canonical_url",
        "outlet",
        "title",
        "subtitle",
        "authors",
        "published_at",
        "modified_at",
        "language",
        "section",
        "publication",
        "volume",
        "issue",
        "text",
        "captions",
        "word_count",
        "content_hash",
        "extractor_version",
        "fetched_at",
        "discovered_via",
    }
    assert record["extractor_version"].startswith("kzmon-extract/")
    assert "+trafilatura/" in record["extractor_version"]
    assert "\n\n\n" not in record["text"]


def test_content_hash_ignores_whitespace_and_unicode_forms() -> None:
    assert content_hash("a  b\n\nc") == content_hash("a b c")
    assert content_hash("ﬁre") == content_hash("fire")  # NFKC
    assert content_hash("a b") != content_hash("a c")


def test_canonical_url_from_link_resolved_against_url() -> None:
    record = extract_page(_page('<link rel="canonical" href="/news/1-canonical">'))
    assert record["canonical_url"] == "https://example.org/news/1-canonical"


# -------------------------------------------------------------------- a real outlet page
def test_real_global_voices_page(shared_dir: Path) -> None:
    """The real de.globalvoices.org page with trafilatura's own annotation of it."""
    folder = shared_dir / "outlets" / "html" / "globalvoices"
    notes = json.loads(
        (folder / "de.globalvoices.org.nicaragua.trafilatura-annotation.json").read_text("utf-8")
    )
    html = (folder / "de.globalvoices.org.nicaragua.html").read_text(encoding="utf-8")
    record = extract_page({"url": notes["url"], "html": html})
    assert record["outlet"] == "globalvoices"
    assert record["title"] == notes["title"]
    assert record["authors"] == [notes["author"]]
    assert record["published_at"].startswith(notes["date"])
    assert record["language"] == "de"
    for snippet in notes["with"]:
        assert snippet in record["text"]
    for snippet in notes["without"]:
        assert snippet not in record["text"]
    assert len(record["captions"]) == 1
    assert record["captions"][0] not in record["text"]
