"""The tagger: entities, incident types and Kazakhstan-security relevance of one article."""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from functools import cache

from enrich.tagging.matcher import Matcher, Matches
from enrich.tagging.model import features, load_model
from enrich.tagging.relevance import Evidence, score
from enrich.tagging.taxonomy import INCIDENT_TYPES, Entity, Taxonomy, load_taxonomy

LOGGER = logging.getLogger(__name__)

# A generic name ("National Guard", "border guards", a GeoNames village) is Kazakhstan's when
# Kazakhstan or a sure Kazakh place or person is this close (about two sentences), not merely
# somewhere in the article: a Tajik border story that names Kazakhstan once at the end is not
# about Kazakhstan's Border Service.
KZ_CONTEXT_CHARS = 300


class Tagger:
    """Tags article records with the taxonomy; build once (``get_tagger``), call ``tag``."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.version = taxonomy.version
        self.matcher = Matcher(taxonomy)
        self.model = load_model()
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
        """Tags for ``record`` (see ``_tag``)."""
        return self._tag(record)[0]

    def explain(self, record: dict) -> dict:
        """The tags plus the relevance model's inputs (``features``), for training and review."""
        tags, x = self._tag(record)
        return {**tags, "features": x}

    def _tag(self, record: dict) -> tuple[dict, dict[str, float]]:
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
        kz_terms = sum(len(part.kz_term_hits) for part in parts)
        for ref in self._needs_kz.intersection(mentions):
            if not self._in_kz_context(ref, parts, head if not title_in_text else None):
                del mentions[ref]
        incidents = set().union(*(self.matcher.incidents(part) for part in parts))
        title_kz = bool(head.kz_term_hits) or not self._kz_entities.isdisjoint(head.first)
        evidence = Evidence(
            kz_terms=kz_terms,
            security_terms=sum(len(part.security_term_hits) for part in parts),
            entity_mentions=mentions,
            incidents=incidents,
            title_kz=title_kz,
        )
        rule = score(evidence, self.taxonomy)
        x = features(parts, self._kz_entities, mentions, self.taxonomy, rule, title_kz)
        tags = {
            "entities": [self._entity_dict(ref, n, body) for ref, n in mentions.items()],
            "incident_types": [i for i in INCIDENT_TYPES if i in incidents],
            "kz_security": self._relevance(rule, x),
            "taxonomy_version": self.version,
        }
        return tags, x

    def _relevance(self, rule: dict, x: dict[str, float]) -> dict:
        """The model decides when there is one; the rule's score and reasons stay visible."""
        if self.model is None:
            return {**rule, "rule_score": rule["score"]}
        p = round(self.model.probability(x), 3)
        pulls = ", ".join(self.model.contributions(x))
        reasons = [*rule["reasons"], f"model {p:.2f}" + (f" ({pulls})" if pulls else "")]
        return {
            "relevant": p >= self.model.threshold,
            "score": p,
            "reasons": reasons,
            "rule_score": rule["score"],
            "rule_relevant": rule["relevant"],
            "model_score": p,
        }

    def _in_kz_context(self, ref: str, parts: list[Matches], head: Matches | None) -> bool:
        """A generic name counts near Kazakhstan: a Kazakhstan term or a sure Kazakh place or
        person within ``KZ_CONTEXT_CHARS`` of one of its mentions, or in the title."""
        if head is not None and (head.kz_term_hits or not self._kz_anchors.isdisjoint(head.first)):
            return True
        for part in parts:
            own = part.positions.get(ref)
            if not own:
                continue
            if part.kz_anchor_positions is None:
                sure = self._kz_anchors
                part.kz_anchor_positions = sorted(
                    [*part.kz_term_hits, *(pos for pos, r in part.entity_hits if r in sure)]
                )
            anchors = part.kz_anchor_positions
            for pos in own:
                i = bisect.bisect_left(anchors, pos - KZ_CONTEXT_CHARS)
                if i < len(anchors) and anchors[i] <= pos + KZ_CONTEXT_CHARS:
                    return True
        return False

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
