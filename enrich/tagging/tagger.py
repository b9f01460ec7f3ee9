"""The tagger: entities, incident types and Kazakhstan-security relevance of one article."""

from __future__ import annotations

import logging
from collections import Counter
from functools import cache

from enrich.tagging.matcher import PATTERN, START, Hit, Matcher, Scan
from enrich.tagging.relevance import Evidence, score
from enrich.tagging.taxonomy import INCIDENT_TYPES, Entity, Taxonomy, load_taxonomy

LOGGER = logging.getLogger(__name__)


class Tagger:
    """Tags article records with the taxonomy; build once (``get_tagger``), call ``tag``."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.version = taxonomy.version
        self.matcher = Matcher(taxonomy)
        self._static = {ref: _static_dict(entity) for ref, entity in taxonomy.entities.items()}

    def tag(self, record: dict) -> dict:
        """Tags for ``record`` (``title``, ``text``, optional ``language``).

        Returns ``{"entities", "incident_types", "kz_security", "taxonomy_version"}``.
        ``first_offset`` is a character offset into ``text``; -1 when the entity is only
        named in the title. The title is scanned apart unless ``text`` starts with it.
        Matching is language-independent (all three languages' aliases are in one automaton),
        so ``language`` is not needed.
        """
        title = str(record.get("title") or "").strip()
        text = str(record.get("text") or "")
        scan, hits = self.matcher.scan(text)
        title_scan, title_hits = self.matcher.scan(title)
        title_in_text = bool(title) and text.lstrip().startswith(title)
        tally = _Tally()
        if not title_in_text:
            tally.add(title_hits, None)
            tally.incidents = self.matcher.incidents(title_scan, title_hits)
        tally.add(hits, scan)
        tally.incidents |= self.matcher.incidents(scan, hits)
        evidence = Evidence(
            kz_terms=tally.kinds.get("kz_term", 0),
            security_terms=tally.kinds.get("security_term", 0),
            entity_mentions=Counter(tally.mentions),
            incidents=tally.incidents,
            title_kz=any(self._is_kz(h) for h in title_hits),
        )
        return {
            "entities": [
                self._entity_dict(ref, n, tally.first[ref]) for ref, n in tally.mentions.items()
            ],
            "incident_types": [i for i in INCIDENT_TYPES if i in tally.incidents],
            "kz_security": score(evidence, self.taxonomy),
            "taxonomy_version": self.version,
        }

    def _entity_dict(self, ref: str, count: int, first_offset: int) -> dict:
        out = self._static[ref].copy()
        out["mentions"] = count
        out["first_offset"] = first_offset
        if "geo" in out:
            out["geo"] = out["geo"].copy()
        return out

    def _is_kz(self, hit: Hit) -> bool:
        pattern = hit[PATTERN]
        if pattern.kind == "kz_term":
            return True
        if pattern.kind != "entity":
            return False
        return self.taxonomy.entities[pattern.ref].country == self.taxonomy.relevance.kz_country


class _Tally:
    """One pass over the hits: entity mentions and first offsets, kind counts."""

    def __init__(self) -> None:
        self.mentions: dict[str, int] = {}
        self.first: dict[str, int] = {}
        self.kinds: dict[str, int] = {}
        self.incidents: set[str] = set()

    def add(self, hits: list[Hit], scan: Scan | None) -> None:
        """Count ``hits``; offsets from ``scan`` (None: title hits, offset -1)."""
        mentions, first, kinds = self.mentions, self.first, self.kinds
        for hit in hits:
            pattern = hit[PATTERN]
            kind = pattern.kind
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind == "entity":
                ref = pattern.ref
                mentions[ref] = mentions.get(ref, 0) + 1
                if first.get(ref, -1) == -1:
                    first[ref] = scan.offset(hit[START]) if scan is not None else -1


def _static_dict(entity: Entity) -> dict:
    """An entity dict template in the documented key order (``geo`` for places only)."""
    out: dict = {"id": entity.id, "type": entity.type, "name": entity.name}
    out.update(mentions=0, first_offset=-1)
    if entity.type == "place" and entity.geo is not None:
        out["geo"] = {"lat": entity.geo.lat, "lon": entity.geo.lon}
    return out


@cache
def get_tagger() -> Tagger:
    """The process-wide tagger (the automaton is built once per process)."""
    return Tagger(load_taxonomy())
