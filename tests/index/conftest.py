"""Fixtures of the indexer tests: an isolated index prefix per test and article records."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

WORDS = [
    "Kazakhstan",
    "security",
    "service",
    "detained",
    "suspects",
    "accused",
    "of",
    "planning",
    "attacks",
    "in",
    "Almaty",
    "Astana",
    "police",
    "officials",
    "said",
    "investigation",
    "continues",
    "court",
    "hearing",
    "extremism",
    "charges",
    "border",
    "region",
    "Shymkent",
    "Aktobe",
    "protest",
    "government",
    "statement",
    "week",
]


@pytest.fixture
def prefix(es, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh KZMON_INDEX_PREFIX, so tests share the session node without meeting."""
    value = f"kzt{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("KZMON_INDEX_PREFIX", value)
    yield value
    es.options(ignore_status=404).indices.delete(index=f"{value}-*")
    es.options(ignore_status=404).indices.delete_index_template(name=f"{value}-*")
    for part in ("settings", "mappings", "analysis"):
        es.options(ignore_status=404).cluster.delete_component_template(
            name=f"{value}-articles-{part}"
        )


@pytest.fixture
def dead_letter_dir(tmp_path: Path) -> Path:
    """A dead-letter folder of this test alone."""
    return tmp_path / "dead-letter"


def _record(i: int, **overrides: Any) -> dict[str, Any]:
    text = "\n\n".join(
        " ".join(WORDS[(i + j + k) % len(WORDS)] for k in range(40)) for j in range(3)
    )
    record: dict[str, Any] = {
        "url": f"https://www.themoscowtimes.com/2026/11/{i:02d}/story-{i}?utm=x",
        "canonical_url": f"https://www.themoscowtimes.com/2026/11/{i:02d}/story-{i}",
        "outlet": "moscowtimes",
        "outlet_name": "The Moscow Times",
        "title": f"Security service detains suspects in Almaty, story {i}",
        "subtitle": None,
        "authors": ["Staff"],
        "published_at": f"2026-11-{1 + i % 20:02d}T08:00:00+00:00",
        "modified_at": None,
        "language": "en",
        "section": "news",
        "publication": None,
        "volume": None,
        "issue": None,
        "text": text,
        "word_count": len(text.split()),
        "content_hash": f"{i:064x}",
        "extractor_version": "trafilatura-2.3.1/1",
        "fetched_at": "2026-11-20T10:00:00+00:00",
        "discovered_via": "feed",
        "entities": [
            {
                "id": "place:almaty",
                "type": "place",
                "name": "Almaty",
                "mentions": 2,
                "first_offset": 10,
                "geo": {"lat": 43.2389, "lon": 76.8897},
            },
            {
                "id": "org:knb",
                "type": "organization",
                "name": "National Security Committee",
                "mentions": 1,
                "first_offset": 0,
            },
        ],
        "incident_types": ["arrest"] if i % 2 == 0 else ["protest"],
        "kz_security": {"relevant": i % 3 != 0, "score": 0.8, "reasons": ["place:almaty"]},
        "taxonomy_version": "test-1",
    }
    record.update(overrides)
    return record


@pytest.fixture
def make_record() -> Callable[..., dict[str, Any]]:
    """``make_record(i, **overrides)``: a tagged article record (docs/records.md §2)."""
    return _record
