"""Full-text search of the articles with filters and highlighted snippets.

The query string uses Elasticsearch's ``simple_query_string`` syntax ("quoted phrases",
``-exclusion``, ``a | b``), with AND between words by default; it never fails on syntax.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from kzmon.es import get_client
from kzmon.indexer.documents import ENTITY_FIELDS
from kzmon.indexer.limits import highlight_max_analyzed_offset
from kzmon.indexer.names import get_names

LOGGER = logging.getLogger(__name__)

#: Searched fields and boosts; ``.*`` picks the english/russian sub-fields where they exist.
QUERY_FIELDS = ["title^3", "title.*^3", "subtitle^2", "subtitle.*^2", "text", "text.*"]
#: Fields of each hit returned to callers.
RESULT_FIELDS = [
    "doc_id",
    "url",
    "canonical_url",
    "title",
    "outlet",
    "outlet_name",
    "language",
    "published_at",
    "incident_types",
    "places",
    "groups",
    "people",
    "organizations",
    "relevant",
    "relevance_score",
]
#: A snippet long enough for a sentence of context on each side of the match.
SNIPPET_CHARS = 180
SNIPPETS = 2
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class SearchFilters:
    """Filters of a search; lists mean "any of these" (entities: every one of them)."""

    entities: list[str] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    relevant_only: bool = False


@dataclass
class SearchHit:
    """One article found, with its highlighted snippets (``<em>`` around matches)."""

    doc_id: str
    score: float | None
    source: dict[str, Any]
    snippets: list[str]


@dataclass
class SearchResult:
    """The total number of matches and the first hits."""

    total: int
    hits: list[SearchHit]


def build_query(query: str, filters: SearchFilters) -> dict[str, Any]:
    """The Elasticsearch query of a text query and filters (reusable by saved searches)."""
    must: list[dict[str, Any]] = []
    if query.strip():
        must.append(
            {
                "simple_query_string": {
                    "query": query,
                    "fields": QUERY_FIELDS,
                    "default_operator": "and",
                }
            }
        )
    return {"bool": {"must": must or [{"match_all": {}}], "filter": _filters(filters)}}


def _filters(filters: SearchFilters) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = [_entity_clause(e) for e in filters.entities]
    for name, values in (
        ("incident_types", filters.incidents),
        ("outlet", filters.outlets),
        ("language", filters.languages),
    ):
        if values:
            clauses.append({"terms": {name: values}})
    if filters.since or filters.until:
        bounds = {"gte": _day(filters.since), "lte": _day(filters.until)}
        clauses.append({"range": {"published_at": {k: v for k, v in bounds.items() if v}}})
    if filters.relevant_only:
        clauses.append({"term": {"relevant": True}})
    return clauses


def _day(value: str | None) -> str | None:
    """A date alone covers its whole day (``lte 2026-11-03`` includes 2026-11-03T08:00)."""
    if value and _DATE_ONLY.fullmatch(value):
        return f"{value}||/d"
    return value


def _entity_clause(entity: str) -> dict[str, Any]:
    """An entity given by id (``group:jund_al_khilafah``) or by canonical name."""
    fields = ["entity_ids", *(names for names, _ in ENTITY_FIELDS.values())]
    return {
        "bool": {
            "should": [{"term": {f: entity}} for f in fields],
            "minimum_should_match": 1,
        }
    }


def search_articles(
    query: str = "",
    filters: SearchFilters | None = None,
    *,
    size: int = 10,
    es: Elasticsearch | None = None,
) -> SearchResult:
    """Search the read alias: best matches first (newest first without a text query)."""
    es = es or get_client()
    filters = filters or SearchFilters()
    sort: list[Any] = [{"published_at": {"order": "desc", "unmapped_type": "date"}}]
    if query.strip():
        sort.insert(0, "_score")
    resp = es.search(
        index=get_names().read_alias,
        query=build_query(query, filters),
        size=size,
        sort=sort,
        track_scores=True,
        source_includes=RESULT_FIELDS,
        highlight={
            "fields": {
                "title": {"number_of_fragments": 0},
                "text": {"fragment_size": SNIPPET_CHARS, "number_of_fragments": SNIPPETS},
                "text.*": {"fragment_size": SNIPPET_CHARS, "number_of_fragments": SNIPPETS},
            },
            "no_match_size": SNIPPET_CHARS,
            "max_analyzed_offset": highlight_max_analyzed_offset(),
        },
        track_total_hits=True,
    )
    hits = [_hit(h) for h in resp["hits"]["hits"]]
    return SearchResult(total=resp["hits"]["total"]["value"], hits=hits)


def _hit(raw: dict[str, Any]) -> SearchHit:
    highlight = raw.get("highlight", {})
    source = dict(raw["_source"])
    if highlight.get("title"):
        source["title_highlighted"] = highlight["title"][0]
    snippets = highlight.get("text") or next(
        (v for k, v in highlight.items() if k.startswith("text.")), []
    )
    return SearchHit(doc_id=raw["_id"], score=raw.get("_score"), source=source, snippets=snippets)
