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
        text_scan, text_hits = self.matcher.scan(text)
        title_hits: list[Hit] = []
        if title:
            title_hits = self.matcher.scan(title)[1]
        title_in_text = bool(title) and text.lstrip().startswith(title)
        counted = text_hits if title_in_text else [*title_hits, *text_hits]
        incidents = {h[PATTERN].ref for h in counted if h[PATTERN].kind == "incident"}
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
            pattern = hit[PATTERN]
            if pattern.kind == "entity":
                mentions[pattern.ref] += 1
                first[pattern.ref] = -1
        for hit in hits:
            pattern = hit[PATTERN]
            if pattern.kind == "entity":
                mentions[pattern.ref] += 1
                if first.get(pattern.ref, -1) == -1:
                    first[pattern.ref] = scan.offset(hit[START])
        return [self._entity_dict(ref, count, first[ref]) for ref, count in mentions.items()]

    def _entity_dict(self, ref: str, count: int, first_offset: int) -> dict:
        static = self._static[ref]
        out = {**static["head"], "mentions": count, "first_offset": first_offset}
        if static["geo"] is not None:
            out["geo"] = dict(static["geo"])
        return out

    def _is_kz(self, hit: Hit) -> bool:
        pattern = hit[PATTERN]
        if pattern.kind == "kz_term":
            return True
        if pattern.kind != "entity":
            return False
        return self.taxonomy.entities[pattern.ref].country == self.taxonomy.relevance.kz_country

    def _evidence(self, hits: list[Hit], title_hits: list[Hit]) -> Evidence:
        evidence = Evidence(title_kz=any(self._is_kz(h) for h in title_hits))
        kinds = Counter(h[PATTERN].kind for h in hits)
        evidence.kz_terms = kinds["kz_term"]
        evidence.security_terms = kinds["security_term"]
        evidence.entity_mentions.update(h[PATTERN].ref for h in hits if h[PATTERN].kind == "entity")
        return evidence


def _static_dict(entity: Entity) -> dict:
    """The parts of an entity dict that never change: ``head`` keys and ``geo`` (places)."""
    geo = None
    if entity.type == "place" and entity.geo is not None:
        geo = {"lat": entity.geo.lat, "lon": entity.geo.lon}
    return {"head": {"id": entity.id, "type": entity.type, "name": entity.name}, "geo": geo}


@cache
def get_tagger() -> Tagger:
    """The process-wide tagger (the automaton is built once per process)."""
    return Tagger(load_taxonomy())
