"""Where it happened: sentences, their country, and the security evidence located in each.

Words of violence do not make Kazakhstan security news; what matters is what happened and
where. This module reads one article's matches sentence by sentence:

1. **Sentences.** Each part (title, body) is split at sentence ends (``.!?…`` before a space,
   line breaks). The *lead* is the title plus the body's first sentence.
2. **Country words.** Kazakhstan evidence (Kazakhstan/Kazakh terms, Kazakh places and bodies;
   Kazakh people count half: an official may speak about anything) and foreign evidence
   (foreign places and bodies, and ``relevance.yaml: foreign_terms``: "Tajik", "Kabul",
   "пограничники Таджикистана"). A country named as the other side of a border or as where
   someone came from ("on the border with Kyrgyzstan", "returned from Syria",
   ``relevance.yaml: not_location``) is no evidence of where something happened.
3. **Where each sentence happens.** The side with more evidence; a tie is *mixed*; a sentence
   without country words inherits the location of the one before it (news goes on where it
   started), the first ones the article's dominant side.
4. **Where each item happens.** An incident word, a security term, a group or body is located
   by the country words of its own sentence, the nearer ones weighing more ("Kazakhstan keeps
   its Kabul embassy open after the Taliban takeover": the Taliban are in Kabul); in a sentence
   without any, by the sentence's inherited location.
5. **Generic bodies** ("border guards", "Interior Ministry", "National Guard") are Kazakhstan's
   only where they are located so: a country word right beside the name decides ("Tajik
   border guards", "Border Service of the KNB"), else the item rule above.
6. **Evidence by location.** Security evidence (violent incident types, radicalisation,
   militant groups, security terms and bodies) and softer incidents (arrests, trials, killings,
   protests: also in crime, accident and politics stories) are summed per location; soft
   evidence apart where its sentence holds security evidence too, and everything apart where
   the sentence has story-context words (sport, economy, culture, accident, politics, health,
   crime, history, war; ``relevance.yaml: domains``).

``Reading.features()`` turns this into the relevance model's inputs, all in [0, 1];
``Reading.reasons()`` says it in words for analysts.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from enrich.tagging.normalize import tokens
from enrich.tagging.taxonomy import Pattern, Taxonomy, expand_braces

if TYPE_CHECKING:
    from enrich.tagging.matcher import Matches

LOGGER = logging.getLogger(__name__)

# A sentence ends at ".", "!", "?" or "…" (and a closing quote or bracket) before white space,
# and at a line break. One character class and no look-ahead: this pattern costs a fifth of a
# bare tokenising pass, one with alternatives and look-ahead cost as much as the pass itself.
# Abbreviations ("St. Petersburg") split a sentence in two; the second half inherits the
# location of the first, so little is lost.
_SENTENCE_END_RE = re.compile(r"[.!?…\n][\"'»”’)\]]?\s")
# Story-context domains (``relevance.yaml: domains``); ``actor`` words (police, suspects,
# weapons) are apart: they mark a security or crime story, not another kind.
STORY_DOMAINS = (
    "sport",
    "economy",
    "culture",
    "accident",
    "politics",
    "health",
    "crime",
    "history",
    "war",
)
# Incident types this heavy (incidents.yaml) are security evidence wherever they are found
# (unless ``security_evidence`` says otherwise); lighter ones (arrest, trial, killing,
# protest, ...) also make crime, accident and politics news.
VIOLENT_WEIGHT = 1.2
# Weights of the other security evidence (per mention): a security term ("terrorist") is
# weaker than a named group or body.
SECURITY_TERM_WEIGHT = 0.5
GROUP_WEIGHT = 1.0
BODY_WEIGHT = 1.0
# A foreign word that is a demonym or a city counts a little less than a place entity, so that
# "Russian debris fell in Kyzylorda region" stays in Kazakhstan.
FOREIGN_TERM_WEIGHT = 0.75
# Kazakh people are Kazakh evidence at half weight: the president speaks about foreign wars.
PERSON_WEIGHT = 0.5
# A country word starting this close before a generic body's name or after its end (same
# sentence) decides whose body it is: "Tajik border guards", "Kazakhstan's Border Service",
# "пограничники Таджикистана", "Border Service of the KNB" — one or two words, not the object
# of the sentence ("border guards detained two Uzbek citizens").
BESIDE_CHARS = 15
# Country words of an item's sentence weigh exp(-distance / ITEM_SCALE) for the item's
# location: the nearest word decides unless several farther ones outweigh it (about ten words).
ITEM_SCALE = 60.0
# The lead (title + first sentence) counts this many times in the article's Kazakh share.
LEAD_WEIGHT = 2.0
# The reading covers the title and the text up to this many characters (about 300 words: the
# lead and the next few paragraphs of a news story; every labelled, training and held-out text
# is shorter, the five long sample articles are read for their first third). Further down,
# mentions weigh through the rule's totals only (``rule_score``), and the scan only files the
# hits: this bounds the reading's cost on long articles (``make bench-tag``).
READING_CHARS = 2000

KZ, ABROAD, MIXED, NOWHERE = "kz", "abroad", "mixed", "nowhere"
# A protest and arrests in the part read: a rally broken up, protesters detained. Unrest, so the
# article's soft evidence counts as security evidence (a strike that ends in talks has no
# arrests; a crime story no protest). The scan ORs these bits into ``Matches.unrest``.
_UNREST = {"protest": 1, "arrest": 2}
CRACKDOWN = 3
_CRACKDOWN_TYPES = frozenset(_UNREST)
# Sums of evidence by location that ``Reading.features`` saturates into [0, 1].
_SUMS = (
    "lead_security",
    "lead_story",
    "security_kz",
    "security_kz_story",
    "security_abroad",
    "security_mixed",
    "security_unplaced",
    "soft_kz_secure",
    "soft_kz",
    "soft_abroad",
    "soft_story",
)
# Story-context domains and actor words, with their keys in ``Reading.evidence``.
_DOMAIN_KEYS = tuple((d, f"domain_{d}") for d in (*STORY_DOMAINS, "actor"))
# The inputs ``Reading.features`` gives the relevance model, in order.
FEATURES = (
    "kz_share",
    "lead_kz",
    "lead_abroad",
    "incidents_story",
    "incidents_actor",
    "no_security",
    "no_incident",
    *_SUMS,
    *STORY_DOMAINS,
    "actor",
)
# One country word: (position, end, sign +1 Kazakhstan / -1 foreign, weight).
Geo = tuple[int, int, int, float]
# One piece of security or soft evidence: (sentence in its part, position, weight, is
# security evidence, generic body id or "").
Item = tuple[int, int, float, bool, str]
# The weights the scan sums for one pattern (``Tables.evidence``).
Evidence = tuple | None


@dataclass(frozen=True)
class Tables:
    """Per-entity and per-incident weights and the not-location words, precomputed once per
    tagger so that each hit costs one lookup (``evidence`` is stored in the automaton)."""

    # entity id -> (country sign: +1 Kazakhstan, -1 foreign, 0 none; its weight as country
    # evidence; its weight as security evidence, 0 for none)
    entities: dict[str, tuple[int, float, float]]
    incidents: dict[str, tuple[float, bool]]  # incident type -> (weight, is security evidence)
    generic: frozenset[str]  # bodies named generically: resolved by where they are
    deferred: frozenset[str]  # names kept or not after the scan (``kz_context``)
    kz_bodies: frozenset[str]  # Kazakhstan's security bodies
    kz_entities: frozenset[str]  # every Kazakh place, person and body
    groups: frozenset[str]
    not_before: frozenset[str]  # normalised words/phrases before a country word
    not_before_last: frozenset[str]  # their last words (a quick test before ``locates``)
    not_after: tuple[str, ...]  # starts of the next word, each after a space
    not_endings: tuple[str, ...]
    nominative_endings: tuple[str, ...]
    located_endings: tuple[str, ...]

    @classmethod
    def of(cls, taxonomy: Taxonomy) -> Tables:
        """The tables of one taxonomy."""
        kz = taxonomy.relevance.kz_country
        entities: dict[str, tuple[int, float, float]] = {}
        generic, kz_bodies, groups = set(), set(), set()
        for ref, entity in taxonomy.entities.items():
            if entity.type == "group":
                entities[ref] = (0, 0.0, GROUP_WEIGHT)
                groups.add(ref)
            elif entity.type == "organization":
                if entity.kz_context:
                    sign = 0  # resolved by where it is, never evidence of where
                    generic.add(ref)
                else:
                    sign = 1 if entity.country == kz else -1 if entity.country else 0
                entities[ref] = (sign, 1.0 if sign else 0.0, BODY_WEIGHT * entity.security_weight)
                if entity.country == kz and entity.security_weight >= 1:
                    kz_bodies.add(ref)
            elif entity.type == "place":
                entities[ref] = (1 if entity.country == kz else -1, 1.0, 0.0)
            elif entity.type == "person" and entity.country == kz:
                entities[ref] = (1, PERSON_WEIGHT, 0.0)
        marks = taxonomy.relevance.not_location
        before = {
            " ".join(tokens(variant))
            for words in marks.before.values()
            for word in words
            for variant in expand_braces(word)
        }
        return cls(
            entities=entities,
            incidents={
                i: (
                    inc.weight,
                    inc.weight >= VIOLENT_WEIGHT
                    if inc.security_evidence is None
                    else inc.security_evidence,
                )
                for i, inc in taxonomy.incidents.items()
            },
            generic=frozenset(generic),
            deferred=frozenset(r for r, e in taxonomy.entities.items() if e.kz_context),
            kz_bodies=frozenset(kz_bodies),
            kz_entities=frozenset(r for r, e in taxonomy.entities.items() if e.country == kz),
            groups=frozenset(groups),
            not_before=frozenset(before),
            not_before_last=frozenset(phrase.rsplit(" ", 1)[-1] for phrase in before),
            not_after=tuple(
                " " + t for words in marks.after.values() for w in words for t in tokens(w)
            ),
            not_endings=tuple(marks.endings),
            nominative_endings=tuple(marks.nominative_endings),
            located_endings=tuple(marks.located_endings),
        )

    @property
    def quick_before(self) -> frozenset[str]:
        """Words after which a country word may not be a location (``locates`` decides)."""
        return self.not_before_last

    def evidence(self, pattern: Pattern) -> Evidence:
        """The weights the scan sums for one pattern (``matcher.Matcher.scan``).

        Names, Kazakhstan terms and foreign terms: (country sign, country weight, security
        weight, decided later), or None for a name that weighs nothing; incident triggers:
        (weight, is security evidence, unrest bit: 1 protest, 2 arrest, 0 other); security
        terms: (weight,); context words: (1,) for a story-context word, (0,) for an actor word.
        """
        kind = pattern.kind
        if kind == "entity":
            info = self.entities.get(pattern.ref)
            later = pattern.ref in self.deferred
            if info is None:
                return (0, 0.0, 0.0, True) if later else None
            return (*info, later)
        if kind == "incident":
            weight, is_security = self.incidents[pattern.ref]
            return (weight, is_security, _UNREST.get(pattern.ref, 0))
        if kind == "security_term":
            return (SECURITY_TERM_WEIGHT,)
        if kind == "kz_term":
            return (1, 1.0, 0.0, False)
        if kind == "foreign_term":
            return (-1, FOREIGN_TERM_WEIGHT, 0.0, False)
        if kind == "domain":
            return (int(pattern.ref != "actor"),)
        return None

    def locates(self, joined: str, start: int, end: int) -> bool:
        """Is the country word at [start, end) of ``joined`` evidence of where things happen?
        Not when it is a border's other side or where someone came from."""
        space = joined.rfind(" ", 0, start)
        previous = joined[space + 1 : start]
        if previous in self.not_before_last:
            if previous in self.not_before:
                return False
            space2 = joined.rfind(" ", 0, space)
            if joined[space2 + 1 : space] + " " + previous in self.not_before:
                return False
        if joined.endswith(self.not_endings, start, end) and not joined.endswith(
            self.nominative_endings, start, end
        ):
            return False
        return not (
            self.not_after
            and joined.startswith(self.not_after, end)
            and not joined.endswith(self.located_endings, start, end)
        )


def sentence_starts(text: str) -> list[int]:
    """Offsets in ``text`` where its sentences start (the first is 0)."""
    return [0, *[m.end() for m in _SENTENCE_END_RE.finditer(text)]]


class Reading:
    """One article read sentence by sentence (see the module docstring).

    ``matches`` is the scan of the article (its title and text scanned as one string); the
    title occupies its first ``title_chars`` characters (0: no title). ``mentions`` are the
    entity mentions that survived the context checks: the deferred names among them are added
    here; generic bodies are resolved here too (``resolve_generic``) and dropped from
    ``mentions`` by the caller before ``evidence``.
    """

    def __init__(
        self, matches: Matches, mentions: dict[str, int], tables: Tables, *, title_chars: int = 0
    ) -> None:
        self.tables = tables
        self.mentions = mentions
        self.matches = matches
        # The article's incident types after the negation check (the tagger sets them).
        self.incident_types: frozenset[str] | set[str] = frozenset()
        starts = matches.starts
        self.size = len(starts)
        # The lead: the title's sentences and the one after them (the first one without a
        # title).
        lead = bisect.bisect_left(starts, title_chars) + 1 if title_chars else 1
        self.lead = range(min(lead, self.size))
        # Generic bodies' security evidence waits for their resolution: (sentence, position,
        # weight, id).
        self._generic: list[tuple[int, int, float, str]] = []
        self._resort = False
        if matches.deferred:
            self._add_deferred()
            if self._resort:
                matches.geo.sort()
                matches.items.sort()
        self.where = self._locate()

    def _add_deferred(self) -> None:
        """The names decided after the scan (GeoNames places kept, generic bodies, confirmed
        capital-letter names), summed as the scan would have."""
        tables, matches, mentions = self.tables, self.matches, self.mentions
        joined = matches.scan.joined
        for sentence, start, end, ref in matches.deferred:
            info = tables.entities.get(ref)
            if info is None or ref not in mentions:
                continue
            sign, weight, security = info
            if sign and tables.locates(joined, start, end):
                if sign > 0:
                    matches.kz[sentence] += weight
                    matches.mask[sentence] |= 1
                else:
                    matches.foreign[sentence] += weight
                    matches.mask[sentence] |= 2
                matches.geo.append((start, end, sign, weight))
                self._resort = True
            if security:
                if ref in tables.generic:
                    self._generic.append((sentence, start, security, ref))
                else:
                    matches.security[sentence] += security
                    matches.named[sentence] += 1
                    matches.items.append((sentence, start, security, True))
                    self._resort = True

    # --- where -----------------------------------------------------------------------------

    def kz_share(self) -> float | None:
        """Kazakhstan's share of the country evidence, the lead counted ``LEAD_WEIGHT`` times."""
        kz, foreign = sum(self.matches.kz), sum(self.matches.foreign)
        for i in self.lead:
            kz += (LEAD_WEIGHT - 1) * self.matches.kz[i]
            foreign += (LEAD_WEIGHT - 1) * self.matches.foreign[i]
        return kz / (kz + foreign) if kz + foreign else None

    def _locate(self) -> list[str]:
        share = self.kz_share()
        if share is None:
            current = NOWHERE
        else:
            current = KZ if share >= 0.6 else ABROAD if share <= 0.4 else MIXED
        where = []
        for kz, foreign in zip(self.matches.kz, self.matches.foreign, strict=True):
            if kz > foreign:
                current = KZ
            elif foreign > kz:
                current = ABROAD
            elif kz:
                current = MIXED
            where.append(current)
        return where

    def lead_where(self) -> str:
        """Where the lead happens (its own country words only)."""
        lead = self.lead
        kz = sum(self.matches.kz[lead.start : lead.stop])
        foreign = sum(self.matches.foreign[lead.start : lead.stop])
        if kz > foreign:
            return KZ
        if foreign > kz:
            return ABROAD
        return MIXED if kz else NOWHERE

    def _bounds(self, sentence: int) -> tuple[int, int]:
        starts = self.matches.starts
        return starts[sentence], starts[sentence + 1] if sentence + 1 < self.size else 1 << 60

    def _geo(self, low: int, high: int) -> list[Geo]:
        """The country words counted in [low, high)."""
        geo = self.matches.geo
        first = bisect.bisect_left(geo, (low,))
        return geo[first : bisect.bisect_left(geo, (high,), first)]

    def _item_where(self, sentence: int, pos: int, geo: list[Geo] | None = None) -> str:
        """Where the item at ``pos`` of ``sentence`` happens: by the country words of its
        sentence, the nearer weighing more; a sentence without any inherits its location."""
        mask = self.matches.mask[sentence]
        if mask != 3:
            return KZ if mask == 1 else ABROAD if mask == 2 else self.where[sentence]
        if geo is None:
            geo = self._geo(*self._bounds(sentence))
        vote = sum(sign * w * math.exp(-abs(start - pos) / ITEM_SCALE) for start, _, sign, w in geo)
        if vote > 1e-9:
            return KZ
        return ABROAD if vote < -1e-9 else self.where[sentence]

    def resolve_generic(self, ref: str, title_kz: bool) -> bool | None:
        """Is a generically named body (``ref``) Kazakhstan's in this article?

        True when one of its mentions is: a country word beside it decides, else where the
        mention is located (``_item_where``); in an article with no country words, a Kazakh
        title. None when the body is named only past the reading (``READING_CHARS``).
        """
        found = False
        for sentence, start, end, hit_ref in self.matches.deferred:
            if hit_ref != ref:
                continue
            found = True
            low, high = self._bounds(sentence)
            geo = self._geo(low, high)
            sign = _beside(geo, start, end, low, high)
            if sign is None:
                where = self._item_where(sentence, start, geo)
                sign = 1 if where == KZ or (where == NOWHERE and title_kz) else -1
            if sign == 1:
                return True
        return False if found else None

    # --- what happened where ---------------------------------------------------------------

    def _mixed_items(self, sentence: int) -> list[tuple[int, float, bool]]:
        """The security and soft evidence of one sentence, item by item (kept generic bodies
        included): (position, weight, is security evidence)."""
        items = self.matches.items
        first = bisect.bisect_left(items, (sentence,))
        out = [
            (pos, weight, is_security)
            for _, pos, weight, is_security in items[
                first : bisect.bisect_left(items, (sentence + 1,), first)
            ]
        ]
        out += [
            (pos, weight, True)
            for s, pos, weight, ref in self._generic
            if s == sentence and ref in self.mentions
        ]
        return out

    def evidence(self) -> dict[str, float]:
        """Security and soft evidence summed by location and story context (raw sums)."""
        matches, mentions = self.matches, self.mentions
        security, soft = list(matches.security), matches.soft
        named, violent, story = list(matches.named), matches.violent, matches.story
        for sentence, _, weight, ref in self._generic:
            if ref in mentions:  # kept by ``resolve_generic``
                security[sentence] += weight
                named[sentence] += 1
        mask, where_of = matches.mask, self.where
        # A protest and arrests read, both standing after the negation check ("no arrests
        # were made" is none).
        crackdown = matches.unrest == CRACKDOWN and self.incident_types >= _CRACKDOWN_TYPES
        sec_kz = sec_kz_story = sec_abroad = sec_mixed = sec_unplaced = 0.0
        soft_kz_secure = soft_kz = soft_abroad = soft_story = 0.0
        other_count = 0
        lead_story = 0
        lead = self.lead
        incidents = matches.incidents
        for sentence in range(self.size):
            if not (security[sentence] or soft[sentence] or story[sentence]):
                continue
            # Another kind of story when the sentence's story-context words outnumber its named
            # security evidence: "attacked from the opening bell ... middleweight titles" is
            # sport, "a yellow terror threat level ... patrols at markets" is not economy.
            other = story[sentence] > named[sentence]
            if other:
                other_count += incidents[sentence]
                lead_story += sentence in lead
            if not (security[sentence] or soft[sentence]):
                continue
            m = mask[sentence]
            if m == 3:
                # Country words of both sides: each item where its nearest words are.
                geo = self._geo(*self._bounds(sentence))
                pieces = [
                    (self._item_where(sentence, pos, geo), weight, is_security)
                    for pos, weight, is_security in self._mixed_items(sentence)
                ]
            else:
                where = KZ if m == 1 else ABROAD if m == 2 else where_of[sentence]
                pieces = [(where, security[sentence], True), (where, soft[sentence], False)]
            for where, weight, is_security in pieces:
                if not weight:
                    continue
                if not is_security and not crackdown:
                    if other:
                        soft_story += weight
                    elif where is KZ:
                        if named[sentence] or violent[sentence]:
                            soft_kz_secure += weight
                        else:
                            soft_kz += weight
                    elif where is ABROAD:
                        soft_abroad += weight
                elif where is KZ:
                    if other:
                        sec_kz_story += weight
                    else:
                        sec_kz += weight
                elif where is ABROAD:
                    sec_abroad += weight
                elif where is MIXED:
                    sec_mixed += weight
                else:
                    sec_unplaced += weight
        actor = matches.actor
        domains = matches.domains
        out = {
            "lead_security": sum(security[i] for i in self.lead),
            "lead_story": float(lead_story),
            "security_kz": sec_kz,
            "security_kz_story": sec_kz_story,
            "security_abroad": sec_abroad,
            "security_mixed": sec_mixed,
            "security_unplaced": sec_unplaced,
            "soft_kz_secure": soft_kz_secure,
            "soft_kz": soft_kz,
            "soft_abroad": soft_abroad,
            "soft_story": soft_story,
            "security": sec_kz + sec_kz_story + sec_abroad + sec_mixed + sec_unplaced,
            "incidents": float(sum(incidents)),
            "incidents_story": float(other_count),
            "incidents_actor": float(
                sum(
                    c
                    for c, a, b, v in zip(incidents, actor, named, violent, strict=True)
                    if c and (a or b or v > 1)
                )
            ),
        }
        out.update({key: float(domains.get(domain, 0)) for domain, key in _DOMAIN_KEYS})
        return out

    def features(self, evidence: dict[str, float]) -> dict[str, float]:
        """The relevance model's location and context inputs, each in [0, 1]."""
        share = self.kz_share()
        lead = self.lead_where()
        total = evidence["incidents"]
        x = {
            "kz_share": 0.0 if share is None else share,
            "lead_kz": 1.0 if lead == KZ else 0.5 if lead == MIXED else 0.0,
            "lead_abroad": 1.0 if lead == ABROAD else 0.5 if lead == MIXED else 0.0,
            "incidents_story": evidence["incidents_story"] / total if total else 0.0,
            "incidents_actor": evidence["incidents_actor"] / total if total else 0.0,
            "no_security": float(not evidence["security"]),
            # No incident word of any kind: a security body in administrative news (rules,
            # prices, a parade) rather than a security story.
            "no_incident": float(not total),
        }
        x.update(zip(_SUMS, map(_saturate, map(evidence.__getitem__, _SUMS)), strict=True))
        for domain, key in _DOMAIN_KEYS:
            x[domain] = min(evidence[key], 4.0) / 4.0
        return x

    def reasons(self, evidence: dict[str, float]) -> list[str]:
        """What the reading found, for analysts."""
        out = [
            f"security evidence in Kazakhstan {evidence['security_kz']:.1f}, in other kinds of "
            f"story {evidence['security_kz_story']:.1f}, abroad "
            f"{evidence['security_abroad']:.1f}, mixed {evidence['security_mixed']:.1f}, "
            f"unplaced {evidence['security_unplaced']:.1f}; lead: {self.lead_where()}"
        ]
        context = [
            f"{domain} x{int(evidence[key])}"
            for domain, key in _DOMAIN_KEYS[:-1]  # not the actor words
            if evidence[key]
        ]
        if context:
            out.append("story context: " + ", ".join(context))
        return out


def _beside(geo: list[Geo], start: int, end: int, low: int, high: int) -> int | None:
    """Sign of a country word ending just before ``start`` or starting just after ``end``
    (same sentence); None when there is none, or one of each sign."""
    i = bisect.bisect_left(geo, (max(low, start - 4 * BESIDE_CHARS),))
    signs = set()
    while i < len(geo) and geo[i][0] < min(high, end + BESIDE_CHARS):
        word_start, word_end = geo[i][0], geo[i][1]
        if start - BESIDE_CHARS <= word_end <= start or end <= word_start:
            signs.add(geo[i][2])
        i += 1
    return signs.pop() if len(signs) == 1 else None


def _saturate(points: float) -> float:
    return 1.0 - math.exp(-points)
