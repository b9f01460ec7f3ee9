"""One Aho-Corasick pass over the normalised token string, then boundary and context checks.

The same pass files every hit by kind and sums, per sentence, the evidence the relevance
reading weighs (``enrich.tagging.context``): where each sentence happens, its security and
story-context words. One touch per hit: the per-pattern weights are precomputed when the
automaton is built.

The text is normalised (``normalize``: same length, punctuation turned into spaces, a space
added at each end); every automaton key is a space followed by the normalised alias, so a key
can only start at a token start. ``iter_long`` reports the leftmost-longest key at each
point in one C pass (so "Aktobe region" is the region, not the city, and blockers such as
"Moscow Times" swallow "Moscow"). A hit counts when it ends at a token boundary, or, for a stem
key, when the rest of the token is an inflection suffix from ``meta.yaml`` ("Актюбинской" =
stem "актюбинск" + "ой"), or, for a ``*`` key, any continuation but a Kazakh negative infix.
"""

from __future__ import annotations

import bisect
import logging
import operator
import re
from collections import Counter
from collections.abc import Collection

import ahocorasick

from enrich.tagging.confusables import (
    Cleaned,
    drop_invisible,
    fold_mixed,
    fold_tables,
    may_mix_scripts,
)
from enrich.tagging.context import READING_CHARS, Evidence, Tables, sentence_starts
from enrich.tagging.normalize import has_invisible, normalise_encoded, tokens
from enrich.tagging.taxonomy import Pattern, Taxonomy, iter_patterns, suffix_set

LOGGER = logging.getLogger(__name__)

# Source citations such as "(Tengri News [Almaty], April 1, 2010)" name where a cited outlet is
# published, not what the article is about: a capitalised bracketed insertion followed by a
# comma or closing parenthesis is blanked (same length, so offsets stay valid).
_CITATION_RE = re.compile(r"\[[A-Z][\w .'-]{1,30}\](?=[,)])")
# Characters a token averages in the joined string (sample articles: 6.3 with its space); turns
# the context window from tokens into characters.
_CHARS_PER_TOKEN = 7


# One accepted match: (start, end, ref). ``start`` is the index in the joined string of the space
# before the first token, ``end`` the index of the space after the last token; ``ref`` the
# entity id, incident type, domain or country code the pattern stands for.
Hit = tuple[int, int, str]
# What the scan files a pattern under (an int compares faster than a string in the hot loop).
ENTITY, INCIDENT, KZ_TERM, SECURITY_TERM, DOMAIN, FOREIGN_TERM = range(6)
_KIND_CODES = {
    "entity": ENTITY,
    "incident": INCIDENT,
    "kz_term": KZ_TERM,
    "security_term": SECURITY_TERM,
    "domain": DOMAIN,
    "foreign_term": FOREIGN_TERM,
}
# The automaton never holds this character (``normalise`` turns every ASCII control character
# into a space): appended to the scanned string, it makes ``iter_long`` settle a key that was
# still waiting for a longer one at the very end of the text ("... in West Kazakhstan" against
# the key "west kazakhstan region"), which it otherwise drops.
_SENTINEL = "\x00"


def _normalised(text: str) -> tuple[str, bytes]:
    """The scanned string of ``text`` (a space at each end) and the UTF-8 bytes of its
    normalised form."""
    normalised, encoded = normalise_encoded(text)
    return " " + normalised + " ", encoded


def _blank_citations(text: str) -> str:
    """``text`` with source citations blanked (same length; the same object when none)."""
    if "[" not in text:
        return text
    blanked = _CITATION_RE.sub(lambda m: " " * len(m.group()), text)
    return text if blanked == text else blanked


class Scan:
    """The normalised form of one text (same length as the cleaned text, a space at each end).

    Invisible characters are dropped first (``text`` is that text, ``original`` maps back to
    the text as given) and mixed Latin/Cyrillic tokens of ``joined`` are folded
    (``enrich.tagging.confusables``).
    """

    def __init__(self, text: str, known: Collection[str] = ()) -> None:
        # Most texts hold no invisible character: normalise once, and drop them (then
        # normalise again) only when the normalised bytes show one.
        self.cleaned = Cleaned(text, [])
        self.text = _blank_citations(text)
        joined, encoded = _normalised(self.text)
        if has_invisible(encoded):
            self.cleaned = drop_invisible(text)
            if self.cleaned.text != text:
                self.text = _blank_citations(self.cleaned.text)
                joined, encoded = _normalised(self.text)
        # Homoglyphs are folded on the normalised copy (same length): the capital-letter
        # checks read ``text``, where a Cyrillic "А" is as upper-case as a Latin "A".
        self.joined = fold_mixed(joined, known) if may_mix_scripts(joined, encoded) else joined

    @staticmethod
    def offset(pos: int) -> int:
        """Offset in ``text`` of the token after the space at ``pos`` of ``joined``."""
        return pos

    def original(self, pos: int) -> int:
        """Offset in the text as given of the token after the space at ``pos``."""
        return self.cleaned.original(pos)


class Matches:
    """What one scan found, filed by kind in text order, and the evidence of each sentence.

    Every list holds ``(start, end, ref)``: ``entity_hits`` the entity id, ``incident_hits``
    the incident type, ``kz_term_hits`` "kz", ``security_term_hits`` "sec", ``domain_hits``
    the domain, ``foreign_hits`` the country code.
    Positions are indexes of the space before the match in the joined string (= character
    offsets in the cleaned text). Counts, first positions and per-entity positions are derived
    from these on first use.

    Per sentence (``starts``: where each begins), summed in the scan: Kazakhstan and foreign
    country evidence (``kz``, ``foreign``; ``mask``: 1 Kazakh, 2 foreign, 3 both), security
    evidence (``security``: incident types that are security evidence, groups, bodies, security
    terms) and soft evidence (``soft``: other incident types), the number of named security
    words (terms, groups, bodies), of security incident words and of all incident words, of
    story-context and of actor words. ``deferred`` holds the names decided after the scan
    (GeoNames places, generic bodies, confirmed capital-letter names): ``(sentence, start,
    end, entity id)``; ``context.Reading`` adds the ones kept.
    """

    def __init__(self, scan: Scan) -> None:
        self.scan = scan
        self.entity_hits: list[tuple[int, int, str]] = []
        self.incident_hits: list[Hit] = []
        self.kz_term_hits: list[Hit] = []
        self.security_term_hits: list[Hit] = []
        self.domain_hits: list[Hit] = []
        self.foreign_hits: list[Hit] = []
        self._mentions: Counter[str] | None = None
        self._first: dict[str, int] | None = None
        self._positions: dict[str, list[int]] | None = None
        # entity_hits[:split] are in text order; confirmed capital-letter names follow.
        self.split = 0
        self.kz_anchor_positions: list[int] | None = None  # filled by the tagger on demand
        self.starts: list[int] = [0]
        self.kz: list[float] = [0.0]
        self.foreign: list[float] = [0.0]
        self.mask: list[int] = [0]
        self.security: list[float] = [0.0]
        self.soft: list[float] = [0.0]
        self.named: list[int] = [0]
        self.violent: list[int] = [0]
        self.incidents: list[int] = [0]
        self.story: list[int] = [0]
        self.actor: list[int] = [0]
        self.deferred: list[tuple[int, int, int, str]] = []
        self.unrest = 0  # protest (1) and arrest (2) triggers in the part read, OR-ed
        # The country words counted (start, end, sign, weight) and the security and soft
        # evidence (sentence, position, weight, is security evidence), in text order: what a
        # sentence with country words of both sides is read from item by item.
        self.geo: list[tuple[int, int, int, float]] = []
        self.items: list[tuple[int, int, float, bool]] = []

    @property
    def mentions(self) -> Counter[str]:
        """Entity id -> number of mentions."""
        if self._mentions is None:
            self._mentions = Counter(map(_THIRD, self.entity_hits))
        return self._mentions

    @property
    def first(self) -> dict[str, int]:
        """Entity id -> position of its first mention."""
        if self._first is None:
            self._first = self.first_after(0)
        return self._first

    def first_after(self, boundary: int) -> dict[str, int]:
        """Entity id -> position of its first mention at or after ``boundary``."""
        hits, split = self.entity_hits, self.split
        low = bisect.bisect_left(hits, (boundary,), 0, split) if boundary else 0
        # Reversed, so that the earliest position of each id is the one left standing.
        ordered = hits[low:split][::-1]
        first = dict(zip(map(_THIRD, ordered), map(_FIRST, ordered), strict=True))
        for pos, _, ref in hits[split:]:
            if pos >= boundary and pos < first.get(ref, pos + 1):
                first[ref] = pos
        return first

    @property
    def positions(self) -> dict[str, list[int]]:
        """Entity id -> positions of its mentions, in text order."""
        if self._positions is None:
            positions: dict[str, list[int]] = {}
            for pos, _, ref in self.entity_hits:
                positions.setdefault(ref, []).append(pos)
            self._positions = positions
        return self._positions

    @property
    def kinds(self) -> dict[str, int]:
        """Number of accepted matches of each kind."""
        return {
            "entity": len(self.entity_hits),
            "incident": len(self.incident_hits),
            "kz_term": len(self.kz_term_hits),
            "security_term": len(self.security_term_hits),
            "domain": len(self.domain_hits),
            "foreign_term": len(self.foreign_hits),
        }

    @property
    def domains(self) -> Counter[str]:
        """Story-context domain -> number of its words."""
        return Counter(map(_THIRD, self.domain_hits))

    def first_offset(self, ref: str) -> int:
        """Offset in the original text of the first mention of entity ``ref``."""
        return self.scan.original(self.first[ref])


_FIRST = operator.itemgetter(0)
_THIRD = operator.itemgetter(2)
# One pattern as the hot loop files it: (kind code, ref, anchor, pattern, evidence weights
# from ``context.Tables.evidence``).
ScanItem = tuple[int, str, bool, Pattern, Evidence]
# What the automaton stores under a key: (key length, items accepted at a token boundary,
# items accepted with an inflection suffix after the key, items accepted with any other
# continuation, capital-letter items pending at a boundary / suffix / continuation, and for a
# key with one plain item and nothing pending at a boundary (most keys) that item's (kind
# code, ref): what a hit outside the reading files with one append). Split at build time, so a
# hit costs one lookup and no per-pattern tests.
Entry = tuple[
    int,
    tuple[ScanItem, ...],
    tuple[ScanItem, ...],
    tuple[ScanItem, ...],
    tuple[ScanItem, ...],
    tuple[ScanItem, ...],
    tuple[ScanItem, ...],
    tuple[int, str] | None,
]


class Matcher:
    """The compiled automaton plus the matching rules from ``meta.yaml``."""

    def __init__(self, taxonomy: Taxonomy, tables: Tables | None = None) -> None:
        meta = taxonomy.meta
        self.taxonomy = taxonomy
        self.tables = tables or Tables.of(taxonomy)
        self.suffixes = suffix_set(meta)
        self.negators_before = frozenset(t for w in meta.negators_before for t in tokens(w))
        self.negators_after = frozenset(t for w in meta.negators_after for t in tokens(w))
        self.negation_window = meta.negation_window
        self.negative_infixes = tuple(meta.kk_negative_infixes)
        self.context_chars = meta.context_window * _CHARS_PER_TOKEN
        cues = [c for lang in meta.cues.values() for c in lang]
        self.cue_words = frozenset(" ".join(tokens(c)) for c in cues if not c.endswith("~"))
        self.cue_stems = tuple(" ".join(tokens(c.rstrip("~"))) for c in cues if c.endswith("~"))
        grouped: dict[str, dict[tuple[str, str], Pattern]] = {}
        for key, pattern in iter_patterns(taxonomy):
            by_ref = grouped.setdefault(key, {})
            seen = by_ref.get((pattern.kind, pattern.ref))
            # The same key from two languages (ru "?Семей", kk "Семей") keeps the strictest
            # conditions and the widest inflection.
            by_ref[(pattern.kind, pattern.ref)] = pattern if seen is None else _merge(seen, pattern)
        self.automaton = ahocorasick.Automaton()
        self.entries: dict[str, Entry] = {}
        for key, by_ref in grouped.items():
            patterns = tuple(p for p in by_ref.values() if p.kind != "block")
            entry = _entry(len(key), patterns, self.tables)
            self.entries[key] = entry
            self.automaton.add_word(key, entry)
        self.automaton.make_automaton()
        self.size = len(grouped)
        # Alias tokens, to break a tie when folding a mixed-script token (``confusables``).
        self.known_tokens = frozenset(t for key in grouped for t in key.split())
        # Names that confirm an ambiguous alias nearby (``Pattern.anchor``).
        self.anchor_refs = frozenset(
            p.ref
            for by_ref in grouped.values()
            for p in by_ref.values()
            if p.kind == "entity" and p.anchor and not p.capital
        )
        fold_tables()  # built once here, not inside the first article
        LOGGER.info("taxonomy automaton: %d keys", self.size)

    def scan(self, text: str) -> Matches:
        """Everything the taxonomy finds in ``text``, filed by kind in one pass over the hits,
        with each sentence's evidence summed in the same pass.

        ``^`` and ``?`` aliases wait until the whole text is scanned (their context may come
        later); incident triggers are checked for negation later, once per type.
        """
        scan = Scan(text, self.known_tokens)
        matches = Matches(scan)
        joined = scan.joined
        # The reading covers the first ``READING_CHARS`` characters (``context``); past them the
        # loop only files the hits.
        cap = READING_CHARS
        starts = matches.starts = sentence_starts(scan.text[:cap])
        count = len(starts)
        kz, foreign = matches.kz, matches.foreign = [0.0] * count, [0.0] * count
        security, soft = matches.security, matches.soft = [0.0] * count, [0.0] * count
        mask, named = matches.mask, matches.named = [0] * count, [0] * count
        violent, incidents = matches.violent, matches.incidents = [0] * count, [0] * count
        story, actor = matches.story, matches.actor = [0] * count, [0] * count
        entities, incident_hits = matches.entity_hits, matches.incident_hits
        kz_terms, security_terms = matches.kz_term_hits, matches.security_term_hits
        domains, foreign_hits = matches.domain_hits, matches.foreign_hits
        deferred, geo, items = matches.deferred, matches.geo, matches.items
        pending: list[tuple[int, int, tuple[ScanItem, ...]]] = []
        suffixes, infixes = self.suffixes, self.negative_infixes
        quick, locates = self.tables.quick_before, self.tables.locates
        sentence, following = 0, starts[1] if count > 1 else cap
        reading = True
        unrest = 0  # bits of ``context.CRACKDOWN``: a protest, arrests
        lists = (entities, incident_hits, kz_terms, security_terms, domains, foreign_hits)
        for last, entry in self.automaton.iter_long(joined + _SENTINEL):
            end = last + 1
            start = end - entry[0]
            if joined[end] == " ":
                single = entry[7]
                if single is not None and not reading:
                    lists[single[0]].append((start, end, single[1]))
                    continue
                hits, waiting = entry[1], entry[4]
            else:
                token_end = joined.find(" ", end)
                rest = joined[end:token_end]
                if rest in suffixes:
                    hits, waiting = entry[2], entry[5]
                elif not rest.startswith(infixes):
                    hits, waiting = entry[3], entry[6]
                else:
                    hits = waiting = ()
                if hits or waiting:
                    end = token_end
                else:
                    shorter = self._shorter(joined, start, end)
                    if shorter is None:
                        continue
                    end, entry = shorter
                    hits, waiting = entry[1], entry[4]
            if waiting:
                pending.append((start, end, waiting))
            if not hits:
                continue
            if reading and start >= following:
                while start >= following and following < cap:
                    sentence += 1
                    following = starts[sentence + 1] if sentence + 1 < count else cap
                reading = start < cap
            if not reading:
                for item in hits:
                    lists[item[0]].append((start, end, item[1]))
                continue
            for code, ref, _, _, weights in hits:
                lists[code].append((start, end, ref))
                if code == INCIDENT:
                    incidents[sentence] += 1
                    unrest |= weights[2]
                    if weights[1]:
                        security[sentence] += weights[0]
                        violent[sentence] += 1
                    else:
                        soft[sentence] += weights[0]
                    items.append((sentence, start, weights[0], weights[1]))
                elif code == SECURITY_TERM:
                    security[sentence] += weights[0]
                    named[sentence] += 1
                    items.append((sentence, start, weights[0], True))
                elif code == DOMAIN:
                    if weights[0]:
                        story[sentence] += 1
                    else:
                        actor[sentence] += 1
                elif weights is not None:
                    # A name, a Kazakhstan term or a foreign one: (country sign, its weight,
                    # security weight, decided later).
                    sign, weight, security_weight, later = weights
                    if later:
                        deferred.append((sentence, start, end, ref))
                        continue
                    # A country word counts where it stands unless a word before it or its own
                    # ending says otherwise (``Tables.locates``; most words pass the quick test).
                    if sign and (
                        (
                            joined[joined.rfind(" ", 0, start) + 1 : start] not in quick
                            and joined[end - 1] < "\u0400"
                        )
                        or locates(joined, start, end)
                    ):
                        if sign > 0:
                            kz[sentence] += weight
                            mask[sentence] |= 1
                        else:
                            foreign[sentence] += weight
                            mask[sentence] |= 2
                        geo.append((start, end, sign, weight))
                    if security_weight:
                        security[sentence] += security_weight
                        named[sentence] += 1
                        items.append((sentence, start, security_weight, True))
        matches.split = len(entities)
        matches.unrest = unrest
        if pending:
            self._confirm(matches, pending)
        return matches

    def _confirm(
        self, matches: Matches, pending: list[tuple[int, int, tuple[ScanItem, ...]]]
    ) -> None:
        """Capital-letter names, in text order, one pattern at a time: a confirmed sure name
        confirms later ambiguous ones nearby, as any other anchor does. Only entity aliases
        take the capital-letter conditions (``_entry`` checks)."""
        scan, entities, starts = matches.scan, matches.entity_hits, matches.starts
        accepted = matches.split
        anchors: list[int] | None = None  # built for the first ambiguous name only
        confirmed: list[int] = []  # confirmed sure names, anchors too
        for start, end, waiting in pending:
            for item in waiting:
                ambiguous = item[3].ambiguous
                if ambiguous and anchors is None:
                    anchors = [hit[0] for hit in matches.kz_term_hits]
                    anchors += [s for s, _, r in entities[:accepted] if r in self.anchor_refs]
                    anchors += confirmed
                if self._confirmed(scan, start, end, ambiguous, anchors or []):
                    entities.append((start, end, item[1]))
                    if item[2]:
                        (confirmed if anchors is None else anchors).append(start)
                    if item[4] is not None and start < READING_CHARS:
                        at = bisect.bisect_right(starts, start) - 1
                        matches.deferred.append((at, start, end, item[1]))

    def _shorter(self, joined: str, start: int, end: int) -> tuple[int, Entry] | None:
        """The longest key failed its boundary: the longest key ending at an earlier token
        end, with that end."""
        cut = joined.rfind(" ", start + 1, end)
        while cut > start:
            entry = self.entries.get(joined[start:cut])
            if entry is not None:
                return cut, entry
            cut = joined.rfind(" ", start + 1, cut)
        return None

    def incidents(self, matches: Matches) -> set[str]:
        """Incident types with at least one trigger that is not negated ("not a bombing")."""
        hits = matches.incident_hits
        ordered = hits[::-1]
        firsts = dict(zip(map(_THIRD, ordered), ordered, strict=True))  # first trigger per type
        found: set[str] = set()
        negated: set[str] = set()
        for ref, (start, end, _) in firsts.items():
            (negated if self._negated(matches.scan, start, end) else found).add(ref)
        if negated:  # a type's first trigger was negated: its others decide
            for start, end, ref in hits:
                if (
                    ref in negated
                    and ref not in found
                    and not self._negated(matches.scan, start, end)
                ):
                    found.add(ref)
        return found

    def _negated(self, scan: Scan, start: int, end: int) -> bool:
        joined = scan.joined
        before = joined[max(0, start - 40) : start].split()
        before = (before[1:] if start > 40 else before)[-self.negation_window :]
        after = joined[end : end + 20].split()[:1]
        return not self.negators_before.isdisjoint(before) or not self.negators_after.isdisjoint(
            after
        )

    def _confirmed(
        self, scan: Scan, start: int, end: int, ambiguous: bool, anchors: list[int]
    ) -> bool:
        offset = scan.offset(start)
        if not scan.text[offset : offset + 1].isupper():
            return False
        if not ambiguous:
            return True
        joined = scan.joined
        if _sentence_initial(scan.text, offset):
            # Capitalised only because it starts a sentence or a title: needs a cue as the very
            # next token ("Oral city", "Орал қаласында").
            return self._has_cue(joined[end : end + 40].split()[:1])
        low, high = start - self.context_chars, end + self.context_chars
        if any(low <= pos <= high for pos in anchors):
            return True
        window = joined[max(0, low) : start].split()[1:] + joined[end:high].split()[:-1]
        return self._has_cue(window)

    def _has_cue(self, words: list[str]) -> bool:
        return any(w in self.cue_words or w.startswith(self.cue_stems) for w in words)


def _entry(length: int, patterns: tuple[Pattern, ...], tables: Tables) -> Entry:
    """Split a key's patterns by the continuation that accepts them and by the capital test,
    each with its evidence weights."""
    for p in patterns:
        if p.capital and p.kind != "entity":
            raise ValueError(f"capital-letter conditions are for names only: {p}")

    def items(selected: list[Pattern]) -> tuple[tuple[ScanItem, ...], tuple[ScanItem, ...]]:
        made = [(_KIND_CODES[p.kind], p.ref, p.anchor, p, tables.evidence(p)) for p in selected]
        plain = tuple(i for i in made if not i[3].capital)
        return plain, tuple(i for i in made if i[3].capital)

    boundary, boundary_wait = items(list(patterns))
    # With an inflection suffix after the key: stems (a ``*`` key is a stem too); with any
    # other continuation that is not a Kazakh negative infix: ``*`` keys.
    suffixed, suffixed_wait = items([p for p in patterns if p.stem or p.prefix])
    free, free_wait = items([p for p in patterns if p.prefix])
    single = (boundary[0][0], boundary[0][1]) if len(boundary) == 1 and not boundary_wait else None
    return (length, boundary, suffixed, free, boundary_wait, suffixed_wait, free_wait, single)


def _sentence_initial(text: str, offset: int) -> bool:
    """True when only spaces, quotes or brackets separate ``offset`` from a sentence start."""
    before = text[max(0, offset - 8) : offset].rstrip(" \t«\"'“‘(")
    return not before or before[-1] in ".!?\n:"


def _merge(a: Pattern, b: Pattern) -> Pattern:
    return Pattern(
        kind=a.kind,
        ref=a.ref,
        ambiguous=a.ambiguous or b.ambiguous,
        capital=a.capital or b.capital,
        stem=a.stem or b.stem,
        prefix=a.prefix or b.prefix,
        anchor=a.anchor and b.anchor,
    )
