"""Elasticsearch queries for a watchlist: the saved search, its filters, the time window.

Field names follow docs/records.md §3. No percolator: each watchlist is run as an ordinary
search over the documents indexed since its watermark.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

from kzmon.alerts.watchlists import AlertSettings, Watchlist
from kzmon.indexer.limits import highlight_max_analyzed_offset

LOGGER = logging.getLogger(__name__)

#: The analysed fields the query string searches (title counts double).
QUERY_FIELDS = ["title^2", "text"]
#: Sentinels around highlighted terms; replaced by <mark> after escaping (see render.py).
MARK_START = "\x02"
MARK_END = "\x03"
#: The article fields an alert needs from `_source` (not the whole text).
SOURCE_FIELDS = [
    "doc_id",
    "title",
    "url",
    "canonical_url",
    "outlet",
    "outlet_name",
    "language",
    "published_at",
    "indexed_at",
    "content_hash",
    "text",
    "entities",
    "entity_ids",
    "incident_types",
    "relevance_score",
    "story_id",
]


def filter_clauses(watchlist: Watchlist) -> list[dict[str, Any]]:
    """The structured filters of a watchlist as ES filter clauses."""
    f = watchlist.filters
    clauses: list[dict[str, Any]] = []
    if f.entities:
        clauses.append({"terms": {"entity_ids": f.entities}})
    clauses.extend({"term": {"entity_ids": entity}} for entity in f.entities_all)
    if f.incident_types:
        clauses.append({"terms": {"incident_types": f.incident_types}})
    if f.outlets:
        clauses.append({"terms": {"outlet": f.outlets}})
    if f.languages:
        clauses.append({"terms": {"language": f.languages}})
    if f.relevant is not None:
        clauses.append({"term": {"relevant": f.relevant}})
    if f.min_relevance_score is not None:
        clauses.append({"range": {"relevance_score": {"gte": f.min_relevance_score}}})
    return clauses


def text_query(watchlist: Watchlist) -> dict[str, Any]:
    """The saved query string over title and text (match_all when it is empty)."""
    if not watchlist.query.strip():
        return {"match_all": {}}
    return {
        "query_string": {
            "query": watchlist.query,
            "fields": QUERY_FIELDS,
            "default_operator": watchlist.default_operator,
        }
    }


def window_clause(since: datetime, pending_ids: list[str]) -> dict[str, Any]:
    """Documents indexed since `since`, or still pending from an earlier run."""
    should: list[dict[str, Any]] = [{"range": {"indexed_at": {"gte": since.isoformat()}}}]
    if pending_ids:
        should.append({"ids": {"values": pending_ids}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def search_body(
    watchlist: Watchlist,
    since: datetime,
    pending_ids: list[str],
    size: int,
    sent_ids: list[str] | None = None,
) -> dict[str, Any]:
    """The full search request (query, highlight, sort, source filter) for one evaluation.

    `sent_ids` (articles already emailed inside the window) are excluded.
    """
    query: dict[str, Any] = {
        "bool": {
            "must": [text_query(watchlist)],
            "filter": [*filter_clauses(watchlist), window_clause(since, pending_ids)],
        }
    }
    if sent_ids:
        query["bool"]["must_not"] = [{"ids": {"values": sent_ids}}]
    return {
        "query": query,
        "size": size,
        "sort": [{"indexed_at": "asc"}, {"doc_id": "asc"}],
        "_source": SOURCE_FIELDS,
        "highlight": {
            "pre_tags": [MARK_START],
            "post_tags": [MARK_END],
            # a longer text is highlighted up to this offset instead of failing the search
            "max_analyzed_offset": highlight_max_analyzed_offset(),
            "fields": {
                "title": {"number_of_fragments": 0},
                "text": {"fragment_size": 180, "number_of_fragments": 2},
            },
        },
    }


def lucene_query(watchlist: Watchlist) -> str:
    """The watchlist as one Lucene query string (for the Kibana Discover link)."""
    parts = [f"({watchlist.query})"] if watchlist.query.strip() else []
    f = watchlist.filters
    for field_name, values in (
        ("entity_ids", f.entities),
        ("incident_types", f.incident_types),
        ("outlet", f.outlets),
        ("language", f.languages),
    ):
        if values:
            parts.append(f"{field_name}:(" + " OR ".join(_quoted(v) for v in values) + ")")
    parts.extend(f"entity_ids:{_quoted(entity)}" for entity in f.entities_all)
    if f.relevant is not None:
        parts.append(f"relevant:{str(f.relevant).lower()}")
    if f.min_relevance_score is not None:
        parts.append(f"relevance_score:>={f.min_relevance_score}")
    return " AND ".join(parts) or "*"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rison_string(value: str) -> str:
    return "'" + value.replace("!", "!!").replace("'", "!'") + "'"


def discover_url(kibana_url: str, watchlist: Watchlist, settings: AlertSettings) -> str:
    """A Kibana Discover link that shows the watchlist's query over the articles."""
    g = f"(time:(from:{settings.kibana_time_range},to:now))"
    a = (
        f"(dataSource:(dataViewId:{_rison_string(settings.kibana_data_view)},type:dataView),"
        f"query:(language:lucene,query:{_rison_string(lucene_query(watchlist))}))"
    )
    safe = "(),:!'*-_."
    return (
        f"{kibana_url.rstrip('/')}/app/discover#/?_g={quote(g, safe=safe)}&_a={quote(a, safe=safe)}"
    )
