"""The tagger: entities, incident types and Kazakhstan-security relevance of one article."""

from __future__ import annotations

import logging
from collections import Counter
from functools import cache

from enrich.tagging.matcher import Matcher, Matches
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
        kz = taxonomy.relevance.kz_country
        entities = taxonomy.entities
        self._kz_entities = frozenset(r for r, e in entities.items() if e.country == kz)
        # Sure Kazakh context: Kazakh places and people whose names need no context themselves
        # (a GeoNames village does not vouch for another).
        self._kz_anchors = frozenset(
            r
            for r, e in entities.items()
            if e.country == kz and e.type in ("place", "person") and not e.kz_context
        )
        self._needs_kz = frozenset(r for r, e in entities.items() if e.kz_context)

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
        body = self.matcher.scan(text)
        head = self.matcher.scan(title)
        title_in_text = bool(title) and text.lstrip().startswith(title)
        parts = [body] if title_in_text else [head, body]
        mentions: Counter[str] = Counter()
        for part in parts:
            mentions.update(part.mentions)
        kz_terms = sum(part.kinds.get("kz_term", 0) for part in parts)
        if not kz_terms and self._kz_anchors.isdisjoint(mentions):
            for ref in self._needs_kz.intersection(mentions):
                del mentions[ref]
        incidents = set().union(*(self.matcher.incidents(part) for part in parts))
        title_kz = bool(head.kinds.get("kz_term")) or not self._kz_entities.isdisjoint(head.first)
        evidence = Evidence(
            kz_terms=kz_terms,
            security_terms=sum(part.kinds.get("security_term", 0) for part in parts),
            entity_mentions=mentions,
            incidents=incidents,
            title_kz=title_kz,
        )
        return {
            "entities": [self._entity_dict(ref, n, body) for ref, n in mentions.items()],
            "incident_types": [i for i in INCIDENT_TYPES if i in incidents],
            "kz_security": score(evidence, self.taxonomy),
            "taxonomy_version": self.version,
        }

    def _entity_dict(self, ref: str, count: int, body: Matches) -> dict:
        out = self._static[ref].copy()
        out["mentions"] = count
        out["first_offset"] = body.first_offset(ref) if ref in body.first else -1
        if "geo" in out:
            out["geo"] = out["geo"].copy()
        return out


def _static_dict(entity: Entity) -> dict:
    """An entity dict template in the documented key order (``geo`` for places only)."""
    out: dict = {"id": entity.id, "type": entity.type, "name": entity.name}
    out.update(mentions=0, first_offset=-1)
    if entity.type == "place":
        if entity.geo is not None:
            out["geo"] = {"lat": entity.geo.lat, "lon": entity.geo.lon}
        out["admin1"] = entity.admin1
    return out


@cache
def get_tagger() -> Tagger:
    """The process-wide tagger (the automaton is built once per process)."""
    return Tagger(load_taxonomy())
