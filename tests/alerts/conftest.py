"""Fixtures of the alert tests: the real articles index (the indexer's own set-up), article
records, watchlist files and a private SMTP server for the "SMTP down" scenario."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

# Quick retries: the real back-off (2, 4, 8 s) is tuned for production, not for tests.
FAST_SETTINGS = {"smtp_attempts": 2, "smtp_backoff_seconds": 0.05, "smtp_timeout_seconds": 5}


@pytest.fixture(scope="session")
def articles_index(es) -> str:
    """The articles index and aliases, created by the indexer's set-up (no test mapping)."""
    from kzmon.indexer.setup import ensure_setup

    ensure_setup(es)
    return "ok"


@pytest.fixture
def token() -> str:
    """A word that appears only in this test's articles and watchlists."""
    return "kzt" + uuid.uuid4().hex[:12]


@pytest.fixture
def index_records(es, articles_index: str, tmp_path: Path) -> Callable[[list[dict]], None]:
    """Index article records with the real indexer and refresh (searchable at once)."""
    from kzmon.indexer import index_articles

    def _index(records: list[dict]) -> None:
        result = index_articles(
            records, es=es, dead_letter_dir=tmp_path / "dead-letter", refresh=True
        )
        assert result.failed == 0, result.errors

    return _index


def article(
    token: str,
    slug: str,
    *,
    title: str | None = None,
    text: str | None = None,
    outlet: str = "moscowtimes",
    outlet_name: str = "The Moscow Times",
    entities: list[dict[str, Any]] | None = None,
    incidents: list[str] | None = None,
    content_hash: str | None = None,
    relevant: bool = True,
) -> dict[str, Any]:
    """An article record as enrich hands it to the indexer (docs/records.md §2)."""
    text = text or _distinct_text(token, slug)
    return {
        "url": f"https://example.org/{token}/{slug}",
        "canonical_url": f"https://example.org/{token}/{slug}",
        "outlet": outlet,
        "outlet_name": outlet_name,
        "title": title or f"{slug.title()} story {token}",
        "language": "en",
        "published_at": "2026-11-20T08:00:00+00:00",
        "text": text,
        "word_count": len(text.split()),
        "content_hash": content_hash or hashlib.sha256(text.encode()).hexdigest(),
        "entities": entities or [],
        "incident_types": incidents or [],
        "kz_security": {"relevant": relevant, "score": 0.9 if relevant else 0.1, "reasons": []},
    }


_WORDS = [
    "police",
    "court",
    "region",
    "oil",
    "town",
    "border",
    "mosque",
    "prison",
    "road",
    "village",
    "army",
    "governor",
    "statement",
    "witness",
    "night",
    "market",
    "bridge",
    "station",
    "rally",
    "worker",
    "strike",
    "clinic",
    "school",
    "cell",
    "leader",
    "sermon",
    "video",
    "arms",
    "car",
    "bus",
    "checkpoint",
    "farm",
    "camp",
    "river",
    "city",
    "district",
]


def _distinct_text(token: str, slug: str) -> str:
    """A text of its own for each slug, so that only deliberate copies look alike."""
    rng = random.Random(slug)
    words = " ".join(rng.choice(_WORDS) for _ in range(60))
    return f"Report {slug} about {token} in Kazakhstan: {words}."


def place(pid: str, name: str) -> dict[str, Any]:
    """A tagged place entity."""
    return {"id": pid, "type": "place", "name": name, "mentions": 1, "first_offset": 0}


@pytest.fixture
def write_watchlists(tmp_path: Path) -> Callable[..., Path]:
    """Write a watchlists file (with fast SMTP retries) and return its path."""

    def _write(watchlists: list[dict[str, Any]], **settings: Any) -> Path:
        path = tmp_path / f"watchlists-{uuid.uuid4().hex[:6]}.yaml"
        body = {"settings": {**FAST_SETTINGS, **settings}, "watchlists": watchlists}
        path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def private_smtp(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A free port for a private SMTP server that the test starts when it wants it up."""
    from kzmon.localstack.ports import free_port
    from kzmon.localstack.smtp_server import stop_server

    run_dir = tmp_path / "smtp"
    info = {"run_dir": run_dir, "mailbox": run_dir / "mailbox", "port": free_port()}
    try:
        yield info
    finally:
        stop_server(run_dir)
