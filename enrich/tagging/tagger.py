"""The tagger: entities, incident types and Kazakhstan-security relevance of one article."""

from __future__ import annotations

import logging
from collections import Counter
from functools import cache

from enrich.tagging.matcher import Hit, Matcher, Scan
from enrich.tagging.relevance import Evidence, score
from enrich.tagging.taxonomy import INCIDENT_TYPES, Taxonomy, load_taxonomy

LOGGER = logging.getLogger(__name__)


class Tagger:
    """Tags article records with the taxonomy; build once (``get_tagger``), call ``tag``."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.version = taxonomy.version
        self.matcher = Matcher(taxonomy)

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
        text_scan, text_hits = self.matcher.scan(text)
        title_hits: list[Hit] = []
        if title:
            title_hits = self.matcher.scan(title)[1]
        title_in_text = bool(title) and text.lstrip().startswith(title)
        counted = text_hits if title_in_text else [*title_hits, *text_hits]
        incidents = {h.pattern.ref for h in counted if h.pattern.kind == "incident"}
        evidence = self._evidence(counted, title_hits)
        evidence.incidents = incidents
        return {
            "entities": self._entities(text_scan, text_hits, [] if title_in_text else title_hits),
            "incident_types": [i for i in INCIDENT_TYPES if i in incidents],
            "kz_security": score(evidence, self.taxonomy),
            "taxonomy_version": self.version,
        }

    def _entities(self, scan: Scan, hits: list[Hit], title_hits: list[Hit]) -> list[dict]:
        mentions: Counter[str] = Counter()
        first: dict[str, int] = {}
        for hit in title_hits:
            if hit.pattern.kind == "entity":
                mentions[hit.pattern.ref] += 1
                first.setdefault(hit.pattern.ref, -1)
        for hit in hits:
            if hit.pattern.kind != "entity":
                continue
            ref = hit.pattern.ref
            mentions[ref] += 1
            if first.get(ref, -1) == -1:
                first[ref] = scan.offset(scan.token_index(hit.start))
        return [self._entity_dict(ref, count, first[ref]) for ref, count in mentions.items()]

    def _entity_dict(self, ref: str, count: int, first_offset: int) -> dict:
        entity = self.taxonomy.entities[ref]
        out = {
            "id": entity.id,
            "type": entity.type,
            "name": entity.name,
            "mentions": count,
            "first_offset": first_offset,
        }
        if entity.type == "place" and entity.geo is not None:
            out["geo"] = {"lat": entity.geo.lat, "lon": entity.geo.lon}
        return out

    def _is_kz(self, hit: Hit) -> bool:
        if hit.pattern.kind == "kz_term":
            return True
        if hit.pattern.kind != "entity":
            return False
        return self.taxonomy.entities[hit.pattern.ref].country == self.taxonomy.relevance.kz_country

    def _evidence(self, hits: list[Hit], title_hits: list[Hit]) -> Evidence:
        evidence = Evidence(title_kz=any(self._is_kz(h) for h in title_hits))
        for hit in hits:
            kind = hit.pattern.kind
            if kind == "kz_term":
                evidence.kz_terms += 1
            elif kind == "security_term":
                evidence.security_terms += 1
            elif kind == "entity":
                evidence.entity_mentions[hit.pattern.ref] += 1
        return evidence


@cache
def get_tagger() -> Tagger:
    """The process-wide tagger (the automaton is built once per process)."""
    return Tagger(load_taxonomy())
