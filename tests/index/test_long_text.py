"""Issue #13 item 1: a text longer than Elasticsearch's highlight limit (1,000,000 characters)
never breaks a search.

The class: texts just under, at and over the limit, far over it, in Latin, Cyrillic and in
characters outside the Basic Multilingual Plane (which Elasticsearch counts twice), with and
without whitespace to cut at. Stored text is bounded (``text_truncated``), and a highlighted
search over documents written *without* the bound (by an older indexer or another writer)
still answers, because every highlight request carries ``max_analyzed_offset``.
"""

from __future__ import annotations

import pytest

from kzmon.indexer import index_articles
from kzmon.indexer.documents import to_document
from kzmon.indexer.limits import (
    DEFAULT_MAX_TEXT_CHARS,
    bound_text,
    highlight_max_analyzed_offset,
    max_text_chars,
    utf16_length,
)
from kzmon.indexer.names import get_names
from kzmon.indexer.search import search_articles
from kzmon.indexer.setup import ensure_setup

LIMIT = 1_000_000
WORD = "security "  # 9 characters


def _text(units: int, word: str = WORD) -> str:
    """About ``units`` UTF-16 units of text, with paragraph breaks."""
    paragraph = (word * 200).strip() + "\n\n"
    per = utf16_length(paragraph)
    return paragraph * (units // per + 1)


LONG_TEXTS = {
    "just under the limit": _text(LIMIT - 50)[: LIMIT - 1],
    "at the limit": _text(LIMIT)[:LIMIT],
    "one over": _text(LIMIT + 1)[: LIMIT + 1],
    "a 1.3 MB page": _text(1_300_000),
    "3 million": _text(3_000_000),
    "Cyrillic": _text(1_100_000, "безопасность "),
    "emoji (2 UTF-16 units each)": _text(1_200_000, "😀🔥 "),
    "no whitespace at all": "x" * 1_200_000,
}


def test_the_highlight_bound_is_the_index_setting() -> None:
    assert highlight_max_analyzed_offset() == LIMIT
    assert max_text_chars() == DEFAULT_MAX_TEXT_CHARS < LIMIT


@pytest.mark.parametrize("name", LONG_TEXTS)
def test_bound_text_cuts_every_long_text_below_the_bound(name: str) -> None:
    text = LONG_TEXTS[name]
    bounded, cut = bound_text(text, DEFAULT_MAX_TEXT_CHARS)
    assert cut is True
    assert utf16_length(bounded) <= DEFAULT_MAX_TEXT_CHARS
    assert text.startswith(bounded)
    assert utf16_length(bounded) > DEFAULT_MAX_TEXT_CHARS - 2_100  # cut near the bound
    if " " in text:
        assert text[len(bounded)] in " \n"  # at a word or paragraph boundary
    assert not (0xD800 <= ord(bounded[-1]) <= 0xDFFF)


def test_short_texts_and_titles_are_untouched(make_record) -> None:
    record = make_record(1)
    doc = to_document(record)
    assert doc["text"] == record["text"] and "text_truncated" not in doc
    assert bound_text("Атырау", 6) == ("Атырау", False)
    assert bound_text("😀😀", 3) == ("😀", True)  # 4 UTF-16 units do not fit in 3


def test_to_document_bounds_text_title_and_subtitle(make_record) -> None:
    record = make_record(
        2, text=LONG_TEXTS["a 1.3 MB page"], title="T" * 50_000, subtitle="s " * 50_000
    )
    doc = to_document(record)
    assert doc["text_truncated"] is True
    assert utf16_length(doc["text"]) <= DEFAULT_MAX_TEXT_CHARS
    assert len(doc["title"]) <= 2_000 and len(doc["subtitle"]) <= 10_000
    assert doc["word_count"] == record["word_count"]  # of the whole article


@pytest.mark.integration
def test_long_articles_are_indexed_bounded_and_every_search_answers(
    es, prefix, make_record, dead_letter_dir
) -> None:
    ensure_setup(es)
    records = [
        make_record(i, text=f"Atyrau blast report {i}.\n\n" + text)
        for i, text in enumerate(LONG_TEXTS.values())
    ]
    result = index_articles(records, es=es, dead_letter_dir=dead_letter_dir, refresh=True)
    assert (result.indexed, result.failed, result.truncated) == (len(records), 0, len(records))
    stored = es.search(index=get_names().read_alias, size=20, query={"match_all": {}})
    for hit in stored["hits"]["hits"]:
        assert hit["_source"]["text_truncated"] is True
        assert utf16_length(hit["_source"]["text"]) <= DEFAULT_MAX_TEXT_CHARS

    # Documents written without the bound (before it existed, or by another writer).
    for n, text in enumerate(LONG_TEXTS.values()):
        es.index(
            index=get_names().write_alias,
            id=f"raw-{n}",
            document={"doc_id": f"raw-{n}", "title": "Atyrau raw", "text": text},
        )
    es.indices.refresh(index=get_names().read_alias)

    found = search_articles("Atyrau", size=50, es=es)
    assert found.total == 2 * len(LONG_TEXTS)
    assert all(hit.snippets or hit.source.get("title_highlighted") for hit in found.hits)
    deep = search_articles("security", size=50, es=es)  # matches inside the long texts
    assert deep.total >= len(LONG_TEXTS) - 2  # the emoji and "x" texts hold no such word
