"""Article record (docs/records.md §2) ⇄ flat indexed document (§3)."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from kzmon.indexer.limits import (
    MAX_SUBTITLE_CHARS,
    MAX_TITLE_CHARS,
    bound_text,
    max_text_chars,
)

LOGGER = logging.getLogger(__name__)

#: Record fields copied to the document unchanged.
COPIED_FIELDS = (
    "url",
    "canonical_url",
    "outlet",
    "outlet_name",
    "section",
    "authors",
    "language",
    "publication",
    "volume",
    "issue",
    "title",
    "subtitle",
    "text",
    "published_at",
    "modified_at",
    "fetched_at",
    "word_count",
    "content_hash",
    "extractor_version",
    "taxonomy_version",
    "discovered_via",
    "incident_types",
    # written by kzmon.stories after indexing; kept through a re-tag (the stories index
    # holds the membership too, so an article re-indexed without it gets it back)
    "story_id",
)

#: Entity type → (names field, ids field) of the document.
ENTITY_FIELDS = {
    "place": ("places", "place_ids"),
    "group": ("groups", "group_ids"),
    "person": ("people", "person_ids"),
    "organization": ("organizations", "organization_ids"),
}


def doc_id_for(url: str) -> str:
    """The document id: sha256 hex of the canonical URL (a rerun overwrites, never duplicates)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def now_iso() -> str:
    """The current UTC time as ISO 8601 (what `indexed_at` holds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def record_url(record: dict[str, Any]) -> str:
    """The URL that identifies a record: its canonical URL, else the fetched URL."""
    url = record.get("canonical_url") or record.get("url")
    if not url or not isinstance(url, str):
        raise ValueError("record has neither canonical_url nor url")
    return url


def to_document(
    record: dict[str, Any],
    *,
    indexed_at: str | None = None,
    run_id: str | None = None,
    max_text: int | None = None,
) -> dict[str, Any]:
    """The flat document of an article record with its tags; raises ValueError without a URL.

    ``text`` is bounded to ``max_text`` UTF-16 units (default `limits.max_text_chars()`) and
    ``text_truncated`` says whether it was cut; titles and subtitles are bounded too.
    """
    url = record_url(record)
    doc: dict[str, Any] = {"doc_id": doc_id_for(url), "canonical_url": url}
    for name in COPIED_FIELDS:
        if record.get(name) is not None:
            doc[name] = record[name]
    _bound_fields(doc, record, max_text_chars() if max_text is None else max_text)
    doc.update(_entity_fields(record.get("entities") or []))
    doc.update(_relevance_fields(record.get("kz_security") or {}))
    if indexed_at:
        doc["indexed_at"] = indexed_at
    if run_id:
        doc["run_id"] = run_id
    return doc


def _bound_fields(doc: dict[str, Any], record: dict[str, Any], max_text: int) -> None:
    """Cut over-long text, title and subtitle; set ``text_truncated`` (docs/index.md)."""
    cut = bool(record.get("text_truncated"))  # already cut when it was first indexed
    if isinstance(doc.get("text"), str):
        doc["text"], cut_now = bound_text(doc["text"], max_text)
        if cut_now:
            LOGGER.warning(
                "text of %s cut to %d characters (was %d)",
                doc["canonical_url"],
                len(doc["text"]),
                len(record["text"]),
            )
        cut = cut or cut_now
    for name, limit in (("title", MAX_TITLE_CHARS), ("subtitle", MAX_SUBTITLE_CHARS)):
        if isinstance(doc.get(name), str):
            doc[name], _ = bound_text(doc[name], limit)
    if cut:
        doc["text_truncated"] = True


def _entity_fields(entities: list[dict[str, Any]]) -> dict[str, Any]:
    """entity_ids, names and ids per type, place_geo, and the raw list."""
    if not entities:
        return {}
    fields: dict[str, Any] = {"entities": entities}
    fields["entity_ids"] = _unique(e.get("id") for e in entities)
    for etype, (names_field, ids_field) in ENTITY_FIELDS.items():
        of_type = [e for e in entities if e.get("type") == etype]
        if of_type:
            fields[names_field] = _unique(e.get("name") for e in of_type)
            fields[ids_field] = _unique(e.get("id") for e in of_type)
    geo = [_geo_point(e.get("geo")) for e in entities if e.get("type") == "place"]
    if any(geo):
        fields["place_geo"] = [point for point in geo if point]
    regions = _unique(e.get("admin1") for e in entities if e.get("type") == "place")
    if regions:
        fields["region_ids"] = regions  # Kazakh regions of the tagged places (tagger's admin1)
    return fields


def _geo_point(geo: Any) -> dict[str, float] | None:
    """A geo_point of a place's ``{lat, lon}``; None when the place has no usable position."""
    if not isinstance(geo, dict):
        return None
    lat, lon = geo.get("lat"), geo.get("lon")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return {"lat": lat, "lon": lon}
    return None


def _relevance_fields(kz_security: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "relevant" in kz_security:
        fields["relevant"] = bool(kz_security["relevant"])
    if kz_security.get("score") is not None:
        fields["relevance_score"] = kz_security["score"]
    if kz_security.get("reasons"):
        fields["relevance_reasons"] = list(kz_security["reasons"])
    return fields


def _unique(values: Any) -> list[Any]:
    """Values without None and duplicates, in first-seen order."""
    return list(dict.fromkeys(v for v in values if v is not None))


def from_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The article record (without tags) a stored document was made from, for re-tagging."""
    record = {name: doc[name] for name in COPIED_FIELDS if doc.get(name) is not None}
    if doc.get("text_truncated"):
        record["text_truncated"] = True
    record.pop("taxonomy_version", None)
    record.pop("incident_types", None)
    return record
