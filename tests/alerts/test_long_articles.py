"""Issue #13 item 1, alerts side: an article over Elasticsearch's highlight limit no longer
stops a watchlist for good (real Elasticsearch, real SMTP).

Before: every watchlist matching a text over 1,000,000 characters failed its search on every
run and its watermark never moved, so nothing newer was alerted either. Now the indexer
bounds stored text and the alert search bounds its highlighting, so the watchlist mails the
long article, moves on, and mails the next one. Documents written without the bound (an
older index, another writer) are covered by the highlight bound alone.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from kzmon.alerts import run_alerts
from kzmon.indexer.names import get_names

from .conftest import article

pytestmark = pytest.mark.integration


def _long(token: str, chars: int, filler: str = "Report from the region. ") -> str:
    """A text that names the token at the start and again after ``chars`` characters."""
    body = filler * (chars // len(filler) + 1)
    return f"{token} blast in Atyrau.\n\n{body}\n\nLater update on {token}."


def _watchlist(wid: str, token: str) -> dict:
    return {"id": wid, "name": f"Watch {wid}", "query": token, "recipients": [f"{wid}@x.org"]}


def test_long_articles_are_alerted_and_the_watchlist_moves_on(
    token, index_records, write_watchlists, mailbox
) -> None:
    wid = f"{token}-long"
    path = write_watchlists([_watchlist(wid, token)])
    texts = {
        "huge": _long(token, 1_300_000),
        "edge": _long(token, 999_990, "Police detained suspects near the border. "),
        "cyrillic": _long(token, 1_100_000, "Сообщение из региона. "),
        "astral": _long(token, 600_000, "😀🔥 "),  # 1.2M UTF-16 units
    }
    index_records([article(token, slug, text=text) for slug, text in texts.items()])

    first = run_alerts(watchlists_path=path)
    assert first.errors == []
    assert (first.emails_sent, first.entries_sent) == (1, len(texts))

    index_records([article(token, "after")])
    second = run_alerts(watchlists_path=path)
    assert (second.errors, second.emails_sent, second.entries_sent) == ([], 1, 1)
    mails = [m for m in mailbox.messages() if m["X-Kzmon-Watchlist"] == wid]
    assert "After story" in mails[-1].get_body(("plain",)).get_content()


def test_unbounded_documents_from_another_writer_do_not_break_the_watchlist(
    es, token, index_records, write_watchlists, mailbox
) -> None:
    """A 1.3 MB text written straight to the index (no indexer bound) is still alerted."""
    wid = f"{token}-raw"
    path = write_watchlists([_watchlist(wid, token)])
    index_records([article(token, "warmup")])  # the index and aliases exist
    assert run_alerts(watchlists_path=path).errors == []
    text = _long(token, 1_300_000)
    doc_id = hashlib.sha256(f"{token}-raw".encode()).hexdigest()
    es.index(
        index=get_names().write_alias,
        id=doc_id,
        refresh=True,
        document={
            "doc_id": doc_id,
            "url": f"https://example.org/{token}/raw",
            "canonical_url": f"https://example.org/{token}/raw",
            "title": f"Unbounded {token}",
            "text": text,
            "outlet": "moscowtimes",
            "indexed_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "content_hash": hashlib.sha256(text.encode()).hexdigest(),
        },
    )
    result = run_alerts(watchlists_path=path)
    assert result.errors == []
    assert (result.emails_sent, result.entries_sent) == (1, 1)
    index_records([article(token, "newer")])
    assert run_alerts(watchlists_path=path).entries_sent == 1  # the watermark moved on
