"""A standalone batch: cluster article records in memory, no Elasticsearch.

This is what ``python -m kzmon.stories cluster`` runs: every record is tagged when it has no
``entities``, turned into features, clustered online in publication order (the same code as
the indexed pipeline, on a `MemoryStore`), and each article gets its story id and its
story's incident record (or None). Deterministic: the same records give the same ids, in any
input order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kzmon.stories.cluster import cluster_members
from kzmon.stories.features import article_features
from kzmon.stories.incident import build_incident
from kzmon.stories.model import Member

LOGGER = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """One output row per input record, in input order."""

    rows: list[dict[str, Any]]
    stories: int
    incidents: int


def validate(record: Any) -> str | None:
    """Why a record cannot be clustered (None when it can)."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if not isinstance(record.get("url"), str) or not record["url"].strip():
        return "url missing"
    for name in ("title", "text"):
        if record.get(name) is not None and not isinstance(record[name], str):
            return f"{name} is not a string"
    if not (record.get("title") or record.get("text")):
        return "no title or text"
    return None


def cluster_records(records: list[Any]) -> BatchResult:
    """Cluster records; rows ``{"url", "story_id", "incident"}`` (plus ``error`` for bad ones)."""
    members: list[Member | None] = []
    errors: list[str | None] = []
    for record in records:
        error = validate(record)
        if error is None:
            try:
                members.append(Member.from_features(article_features(record)))
            except (ValueError, TypeError, KeyError) as exc:
                error = f"cannot read the record: {exc}"
                LOGGER.warning("%s: %s", record.get("url"), error)
        if error is not None:
            members.append(None)
        errors.append(error)
    good = [m for m in members if m is not None]
    assignment, store = cluster_members(good)
    incidents = {sid: build_incident(story) for sid, story in store.stories.items()}
    rows = []
    for record, member, error in zip(records, members, errors, strict=True):
        url = record.get("url") if isinstance(record, dict) else None
        if member is None:
            rows.append({"url": url, "story_id": None, "incident": None, "error": error})
            continue
        story_id = assignment[member.doc_id]
        rows.append({"url": url, "story_id": story_id, "incident": incidents.get(story_id)})
    return BatchResult(
        rows=rows,
        stories=len(store.stories),
        incidents=sum(1 for i in incidents.values() if i is not None),
    )
