"""Alert state kept in Elasticsearch: per-watchlist watermarks and per-match sent-state.

- ``<prefix>-alerts-state``: one document per watchlist (``_id`` = watchlist id) with the
  ``watermark`` (the highest ``indexed_at`` already evaluated), ``last_evaluated_at`` and
  ``last_digest_at``.
- ``<prefix>-alerts-sent``: one document per watchlist and article (``_id`` =
  ``<watchlist>:<doc_id>``) with ``status`` ``pending`` (matched, not yet delivered) or
  ``sent``. A match is written as pending *before* the watermark moves and marked sent only
  after the SMTP server accepted the mail, so a failed send loses nothing.

Mappings are the JSON files in ``kzmon/alerts/mappings/``. Only plain document APIs are used
(no painless scripts, no percolator).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, helpers

from kzmon.settings import get_settings

LOGGER = logging.getLogger(__name__)

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
PENDING = "pending"
SENT = "sent"
# Pending matches read back per watchlist and run; more than this waits for the next run.
MAX_PENDING = 1000
# Sent articles inside one overlap window that a search excludes (ES's default result window).
MAX_SENT_IN_WINDOW = 10_000


def state_index() -> str:
    """Name of the watermark index."""
    return f"{get_settings().es_index_prefix}-alerts-state"


def sent_index() -> str:
    """Name of the sent-state index."""
    return f"{get_settings().es_index_prefix}-alerts-sent"


def ensure_state_indices(es: Elasticsearch) -> None:
    """Create both state indices from their JSON mappings when they do not exist."""
    for name, mapping_file in (
        (state_index(), "alerts-state.json"),
        (sent_index(), "alerts-sent.json"),
    ):
        body = json.loads((MAPPINGS_DIR / mapping_file).read_text(encoding="utf-8"))
        if es.indices.exists(index=name):
            # Fields added since the index was created (additive: story-level state).
            es.indices.put_mapping(index=name, properties=body["mappings"]["properties"])
            continue
        try:
            es.indices.create(index=name, settings=body["settings"], mappings=body["mappings"])
        except ApiError as exc:
            if exc.status_code != 400 or "already_exists" not in str(exc):
                raise
        LOGGER.info("created alert state index %s", name)


def sent_id(watchlist_id: str, doc_id: str) -> str:
    """The sent-state document id for a watchlist and an article."""
    return f"{watchlist_id}:{doc_id}"


def get_watchlist_state(es: Elasticsearch, watchlist_id: str) -> dict[str, Any]:
    """The state document of a watchlist (empty when it was never evaluated)."""
    response = es.options(ignore_status=404).get(index=state_index(), id=watchlist_id)
    return dict(response.body.get("_source") or {})


def save_watchlist_state(es: Elasticsearch, watchlist_id: str, **fields: Any) -> None:
    """Merge `fields` (datetimes become ISO strings) into the watchlist's state document."""
    doc = {"watchlist": watchlist_id}
    doc.update({k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()})
    es.update(index=state_index(), id=watchlist_id, doc=doc, doc_as_upsert=True, refresh=True)


def _watchlist_query(watchlist_id: str, status: str, *clauses: dict[str, Any]) -> dict[str, Any]:
    """The sent-index query for one watchlist's records of one status, plus `clauses`."""
    return {
        "bool": {
            "filter": [
                {"term": {"watchlist": watchlist_id}},
                {"term": {"status": status}},
                *clauses,
            ]
        }
    }


def pending_doc_ids(es: Elasticsearch, watchlist_id: str) -> list[str]:
    """Article ids matched earlier for this watchlist but not delivered yet."""
    response = es.search(
        index=sent_index(),
        query=_watchlist_query(watchlist_id, PENDING),
        size=MAX_PENDING,
        sort=[{"matched_at": "asc"}],
        source=["doc_id"],
    )
    return [hit["_source"]["doc_id"] for hit in response["hits"]["hits"]]


def sent_ids_since(es: Elasticsearch, watchlist_id: str, since: datetime) -> list[str]:
    """Articles indexed since `since` that were already emailed for this watchlist.

    The search excludes them, so that a window holding more matches than one search returns
    still moves on.
    """
    response = es.search(
        index=sent_index(),
        query=_watchlist_query(
            watchlist_id, SENT, {"range": {"indexed_at": {"gte": since.isoformat()}}}
        ),
        size=MAX_SENT_IN_WINDOW,
        source=["doc_id"],
    )
    return [hit["_source"]["doc_id"] for hit in response["hits"]["hits"]]


def sent_status(es: Elasticsearch, watchlist_id: str, doc_ids: list[str]) -> dict[str, str]:
    """The recorded status of each article for this watchlist (absent: never matched)."""
    if not doc_ids:
        return {}
    ids = [sent_id(watchlist_id, doc_id) for doc_id in doc_ids]
    response = es.mget(index=sent_index(), ids=ids, source=["doc_id", "status"])
    return {
        doc["_source"]["doc_id"]: doc["_source"]["status"]
        for doc in response["docs"]
        if doc.get("found")
    }


def sent_content_hashes(es: Elasticsearch, watchlist_id: str, hashes: list[str]) -> set[str]:
    """Which of these content hashes were already emailed for this watchlist."""
    if not hashes:
        return set()
    response = es.search(
        index=sent_index(),
        query=_watchlist_query(watchlist_id, SENT, {"terms": {"content_hash": hashes}}),
        size=0,
        aggs={"hashes": {"terms": {"field": "content_hash", "size": len(hashes)}}},
    )
    return {bucket["key"] for bucket in response["aggregations"]["hashes"]["buckets"]}


def sent_sketches(es: Elasticsearch, watchlist_id: str, values: list[int]) -> dict[str, list]:
    """Sketches of articles already emailed for this watchlist that share any of `values`."""
    if not values:
        return {}
    response = es.search(
        index=sent_index(),
        query=_watchlist_query(watchlist_id, SENT, {"terms": {"sketch": values}}),
        size=MAX_PENDING,
        source=["doc_id", "sketch"],
    )
    return {hit["_source"]["doc_id"]: hit["_source"]["sketch"] for hit in response["hits"]["hits"]}


def record_matches(
    es: Elasticsearch, watchlist_id: str, hits: list[dict[str, Any]], status: str, now: datetime
) -> None:
    """Write (or overwrite) the sent-state of these articles with `status`."""
    actions = [
        {
            "_op_type": "update",
            "_index": sent_index(),
            "_id": sent_id(watchlist_id, hit["doc_id"]),
            "doc": _sent_doc(watchlist_id, hit, status, now),
            "doc_as_upsert": True,
        }
        for hit in hits
    ]
    if actions:
        helpers.bulk(es, actions, refresh=True)


def _sent_doc(watchlist_id: str, hit: dict[str, Any], status: str, now: datetime) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "watchlist": watchlist_id,
        "doc_id": hit["doc_id"],
        "content_hash": hit.get("content_hash") or None,
        "indexed_at": hit.get("indexed_at"),
        "status": status,
    }
    for optional in ("sketch", "duplicate_of", "story_id"):
        if hit.get(optional):
            doc[optional] = hit[optional]
    if status == PENDING:
        doc["matched_at"] = now.isoformat()
    else:
        doc["sent_at"] = now.isoformat()
    return doc


def record_failure(
    es: Elasticsearch, watchlist_id: str, doc_ids: list[str], error: str, attempts: int
) -> None:
    """Note a failed delivery on pending matches (they stay pending)."""
    actions = [
        {
            "_op_type": "update",
            "_index": sent_index(),
            "_id": sent_id(watchlist_id, doc_id),
            "doc": {"last_error": error[:2000], "attempts": attempts},
        }
        for doc_id in doc_ids
    ]
    if actions:
        helpers.bulk(es, actions, refresh=True)


def story_sent_id(watchlist_id: str, story_id: str) -> str:
    """The id of the story-level sent-state document."""
    return f"{watchlist_id}:story:{story_id}"


def sent_stories(es: Elasticsearch, watchlist_id: str, story_ids: list[str]) -> dict[str, dict]:
    """What was mailed of each story for this watchlist (absent: never mailed)."""
    if not story_ids:
        return {}
    ids = [story_sent_id(watchlist_id, s) for s in story_ids]
    response = es.mget(index=sent_index(), ids=ids)
    return {
        doc["_source"]["story_id"]: doc["_source"] for doc in response["docs"] if doc.get("found")
    }


def record_story(
    es: Elasticsearch, watchlist_id: str, story: dict[str, Any], now: datetime, update: bool
) -> None:
    """Remember what a mail told of a story: its outlets, languages and fatality range."""
    fatalities = story.get("fatalities") or {}
    doc: dict[str, Any] = {
        "watchlist": watchlist_id,
        "kind": "story",
        "story_id": story["story_id"],
        "status": SENT,
        "outlets": sorted(story.get("outlets") or []),
        "languages": sorted(story.get("languages") or []),
        "fatalities_min": fatalities.get("min"),
        "fatalities_max": fatalities.get("max"),
        "sent_at": now.isoformat(),
    }
    if update:
        doc["updates_sent"] = int(story.get("updates_sent") or 0) + 1
    es.index(
        index=sent_index(),
        id=story_sent_id(watchlist_id, story["story_id"]),
        document=doc,
        refresh=True,
    )
