"""The tagger: entities, incident types and Kazakhstan-security relevance of one article."""

from __future__ import annotations

import bisect
import logging
from functools import cache

from enrich.tagging.confusables import drop_invisible
from enrich.tagging.context import Reading, Tables
from enrich.tagging.matcher import Matcher, Matches
from enrich.tagging.model import features, load_model
from enrich.tagging.regions import RegionLists
from enrich.tagging.relevance import Evidence, entity_rows, score
from enrich.tagging.taxonomy import INCIDENT_TYPES, Entity, Taxonomy, load_taxonomy

LOGGER = logging.getLogger(__name__)

# A GeoNames place (a village that may share its name with a word or a place abroad) counts when
# Kazakhstan or a sure Kazakh place or person is this close (about two sentences). Generic
# bodies ("border guards", "National Guard") are resolved by the country of their own sentence
# instead (``context.Reading.resolve_generic``).
KZ_CONTEXT_CHARS = 300
# Between the title and the text in the scanned string: a paragraph break, so that the title is
# a sentence of its own.
_TITLE_GAP = "\n\n"


class Tagger:
    """Tags article records with the taxonomy; build once (``get_tagger``), call ``tag``."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.version = taxonomy.version
        self.tables = Tables.of(taxonomy)
        self.matcher = Matcher(taxonomy, self.tables)
        self.model = load_model()
        self.region_lists = RegionLists(taxonomy)
        kz = taxonomy.relevance.kz_country
        # Per entity: its output dict's template, and what the relevance rule reads.
        self._templates = {ref: _template(entity) for ref, entity in taxonomy.entities.items()}
        self._rows = entity_rows(taxonomy)
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
        named in the title. Title and text are scanned as one string (the title first, as its
        own paragraph) unless the text starts with the title. Matching is
        language-independent (all three languages' aliases are in one automaton), so
        ``language`` is not needed.
        """
        title = str(record.get("title") or "").strip()
        text = str(record.get("text") or "")
        opening = text.lstrip()
        if title and not opening.startswith(title):
            scanned, shift = title + _TITLE_GAP + text, len(title) + len(_TITLE_GAP)
            title_chars = len(drop_invisible(title).text)
            body_start = title_chars + len(_TITLE_GAP)
        else:
            scanned, shift, body_start = text, 0, 0
            title_chars = len(drop_invisible(text[: len(text) - len(opening) + len(title)]).text)
        matches = self.matcher.scan(scanned)
        self.region_lists.apply(matches)
        mentions = matches.mentions  # the scan's own counter: nothing else reads it after this
        generic = self.tables.generic
        kazakh_text = None
        for ref in self._needs_kz.intersection(mentions):
            if ref not in generic and not self._in_kz_context(ref, matches, title_chars):
                if kazakh_text is None:
                    kazakh_text = _is_kazakh_text(scanned)
                if not kazakh_text:
                    del mentions[ref]
        title_kz = bool(title_chars) and self._title_kz(matches, title_chars)
        reading = Reading(matches, mentions, self.tables, title_chars=title_chars)
        for ref in generic.intersection(mentions):
            kazakh = reading.resolve_generic(ref, title_kz)
            if kazakh is None:  # named only past the reading: a Kazakh word near it decides
                kazakh = self._in_kz_context(ref, matches, title_chars)
            if not kazakh:
                del mentions[ref]
        incidents = self.matcher.incidents(matches)
        reading.incident_types = incidents
        evidence = Evidence(
            kz_terms=len(matches.kz_term_hits),
            security_terms=len(matches.security_term_hits),
            entity_mentions=mentions,
            incidents=incidents,
            title_kz=title_kz,
        )
        rule = score(evidence, self.taxonomy, self._rows)
        x, located = features(reading, mentions, self.tables, rule)
        firsts = matches.first_after(body_start) if shift else matches.first
        if matches.scan.cleaned.shifted:
            original = matches.scan.original
            firsts = {ref: original(pos) for ref, pos in firsts.items()}
        tags = {
            "entities": self._entity_dicts(mentions, firsts, shift),
            "incident_types": [i for i in INCIDENT_TYPES if i in incidents],
            "kz_security": self._relevance(rule, x, located),
            "taxonomy_version": self.version,
        }
        return tags, x

    def _title_kz(self, matches: Matches, title_chars: int) -> bool:
        """Does the title name Kazakhstan or a Kazakh place, person or body?"""
        if matches.kz_term_hits and matches.kz_term_hits[0][0] < title_chars:
            return True
        hits = matches.entity_hits
        title = hits[: bisect.bisect_left(hits, (title_chars,), 0, matches.split)]
        return not self._kz_entities.isdisjoint(ref for _, _, ref in title)

    def _relevance(self, rule: dict, x: dict[str, float], located: list[str]) -> dict:
        """The model decides when there is one; the rule's score and reasons stay visible,
        with where the security evidence was found. An article that names neither Kazakhstan
        nor a Kazakh place, person or body is never Kazakhstan security news (the model was
        not trained to say so: nearly every labelled text names Kazakhstan)."""
        if self.model is None:
            return {**rule, "reasons": [*rule["reasons"], *located], "rule_score": rule["score"]}
        values = self.model.pulls(x)
        p = round(self.model.probability(x, values), 3)
        pulls = ", ".join(self.model.contributions(x, pulls=values))
        reasons = [*rule["reasons"], *located, f"model {p:.2f}" + (f" ({pulls})" if pulls else "")]
        relevant, score = p >= self.model.threshold, p
        if not x["kz_any"]:
            reasons.append("no Kazakhstan, Kazakh place, person or body named")
            relevant, score = False, min(p, round(self.model.threshold - 0.001, 3))
        return {
            "relevant": relevant,
            "score": score,
            "reasons": reasons,
            "rule_score": rule["score"],
            "rule_relevant": rule["relevant"],
            "model_score": p,
        }

    def _in_kz_context(self, ref: str, matches: Matches, title_chars: int) -> bool:
        """A GeoNames place (or a generic body named only past the reading) counts near
        Kazakhstan: a Kazakhstan term or a sure Kazakh place or person within
        ``KZ_CONTEXT_CHARS`` of one of its mentions, or in the title."""
        if matches.kz_anchor_positions is None:
            sure = self._kz_anchors
            positions = [hit[0] for hit in matches.kz_term_hits]
            positions += [hit[0] for hit in matches.entity_hits if hit[2] in sure]
            positions.sort()
            matches.kz_anchor_positions = positions
        anchors = matches.kz_anchor_positions
        if anchors and anchors[0] < title_chars:
            return True
        for pos in matches.positions.get(ref, ()):
            i = bisect.bisect_left(anchors, pos - KZ_CONTEXT_CHARS)
            if i < len(anchors) and anchors[i] <= pos + KZ_CONTEXT_CHARS:
                return True
        return False

    def _entity_dicts(self, mentions: dict[str, int], firsts: dict[str, int], shift: int) -> list:
        """One dict per entity, in the documented key order (``geo`` and ``admin1`` for places
        only): a copy of the entity's template with its counts."""
        out = []
        templates = self._templates
        for ref, count in mentions.items():
            first = firsts.get(ref)
            entity = dict(
                templates[ref], mentions=count, first_offset=-1 if first is None else first - shift
            )
            geo = entity.get("geo")
            if geo is not None:
                entity["geo"] = geo.copy()
            out.append(entity)
        return out


# Letters of Kazakh that Russian lacks; a text with this many of them is written in Kazakh.
_KAZAKH_LETTERS = "әғқңөұүһіӘҒҚҢӨҰҮҺІ"
KAZAKH_TEXT_LETTERS = 3


def _is_kazakh_text(text: str) -> bool:
    """Is ``text`` written in Kazakh? Kazakh-language news is Kazakhstan's press: a Kazakh
    GeoNames place it names ("Шетпеде") needs no other Kazakhstan context."""
    found = 0
    for letter in _KAZAKH_LETTERS:
        found += text.count(letter)
        if found >= KAZAKH_TEXT_LETTERS:
            return True
    return False


def _template(entity: Entity) -> dict:
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
