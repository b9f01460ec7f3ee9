"""Search and the CLI against the real local Elasticsearch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kzmon.indexer import index_articles
from kzmon.indexer.search import SearchFilters, search_articles
from kzmon.indexer.setup import ensure_setup

pytestmark = pytest.mark.integration

JUND = "Jund al-Khilafah"


@pytest.fixture
def corpus(es, prefix, make_record, dead_letter_dir) -> str:
    """Six articles: one about Jund al-Khilafah in Atyrau (Russian), the rest generic."""
    ensure_setup(es)
    records = [make_record(i) for i in range(5)]
    records.append(
        make_record(
            50,
            title="Jund al-Khilafah claims the Atyrau bombing",
            text="Jund al-Khilafah said it carried out the bombing in Atyrau.\n\nPolice deny it.",
            language="ru",
            outlet="azattyq_ru",
            incident_types=["bombing"],
            entities=[{"id": "group:jund_al_khilafah", "type": "group", "name": JUND}],
            published_at="2026-11-20T09:00:00+00:00",
        )
    )
    index_articles(records, es=es, dead_letter_dir=dead_letter_dir, refresh=True)
    return prefix


def test_full_text_search_highlights_the_match(es, corpus) -> None:
    """The phrase finds the one article; the snippet marks the words."""
    result = search_articles('"Jund al-Khilafah"', es=es)
    assert result.total == 1
    hit = result.hits[0]
    assert hit.source["outlet"] == "azattyq_ru"
    assert any(s.startswith("<em>Jund") for s in hit.snippets), hit.snippets


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SearchFilters(entities=["group:jund_al_khilafah"]), 1),
        (SearchFilters(entities=["Jund al-Khilafah"]), 1),
        (SearchFilters(incidents=["bombing"]), 1),
        (SearchFilters(incidents=["arrest", "protest"]), 5),
        (SearchFilters(outlets=["moscowtimes"]), 5),
        (SearchFilters(languages=["ru"]), 1),
        (SearchFilters(since="2026-11-15"), 1),
        (SearchFilters(until="2026-11-03"), 3),  # a date alone means the whole day
        (SearchFilters(until="2026-11-03T00:00:00"), 2),
        (SearchFilters(relevant_only=True), 4),  # make_record(0) and (3) are not relevant
    ],
)
def test_filters(es, corpus, filters: SearchFilters, expected: int) -> None:
    """Each filter narrows the articles as documented."""
    assert search_articles("", filters, es=es).total == expected


def test_cli_search_json(es, corpus) -> None:
    """``python -m kzmon.indexer search ... --json`` prints hits with snippets."""
    out = subprocess.run(
        [sys.executable, "-m", "kzmon.indexer", "search", "bombing", "--language", "ru", "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=True,
    ).stdout
    payload = json.loads(out)
    assert payload["total"] == 1
    assert payload["hits"][0]["snippets"]


def test_cli_search_text(es, corpus) -> None:
    """The text output lists the article with the match marked."""
    out = subprocess.run(
        [sys.executable, "-m", "kzmon.indexer", "search", "Atyrau", "--relevant"],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=True,
    ).stdout
    assert out.startswith("1 articles")
    assert "**Atyrau**" in out
