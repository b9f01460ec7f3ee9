"""One Aho-Corasick pass over the normalised token string, then boundary and context checks.

The text is normalised (``normalize``: same length, punctuation turned into spaces, a space
added at each end); every automaton key is a space followed by the normalised alias, so a key
can only start at a token start. ``iter_long`` reports the leftmost-longest key at each
point in one C pass (so "Aktobe region" is the region, not the city, and blockers such as
"Moscow Times" swallow "Moscow"). A hit counts when it ends at a token boundary, or, for a stem
key, when the rest of the token is an inflection suffix from ``meta.yaml`` ("Актюбинской" =
stem "актюбинск" + "ой"), or, for a ``*`` key, any continuation but a Kazakh negative infix.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Collection

import ahocorasick

from enrich.tagging.confusables import drop_invisible, fold_mixed, fold_tables, may_mix_scripts
from enrich.tagging.normalize import padded, tokens
from enrich.tagging.taxonomy import Pattern, Taxonomy, iter_patterns, suffix_set

LOGGER = logging.getLogger(__name__)

# Source citations such as "(Tengri News [Almaty], April 1, 2010)" name where a cited outlet is
# published, not what the article is about: a capitalised bracketed insertion followed by a
# comma or closing parenthesis is blanked (same length, so offsets stay valid).
_CITATION_RE = re.compile(r"\[[A-Z][\w .'-]{1,30}\](?=[,)])")
# Characters a token averages in the joined string (sample articles: 6.3 with its space); turns
# the context window from tokens into characters.
_CHARS_PER_TOKEN = 7


# One accepted incident match: (start, end, pattern). ``start`` is the index in the joined string
# of the space before the first token, ``end`` the index of the space after the last token.
Hit = tuple[int, int, Pattern]
START, END, PATTERN = 0, 1, 2
# What the scan files a pattern under (an int compares faster than a string in the hot loop).
ENTITY, INCIDENT, KZ_TERM, SECURITY_TERM, DOMAIN = range(5)
_KIND_CODES = {
    "entity": ENTITY,
    "incident": INCIDENT,
    "kz_term": KZ_TERM,
    "security_term": SECURITY_TERM,
    "domain": DOMAIN,
}
# The automaton never holds this character (``normalise`` turns every ASCII control character
# into a space): appended to the scanned string, it makes ``iter_long`` settle a key that was
# still waiting for a longer one at the very end of the text ("... in West Kazakhstan" against
# the key "west kazakhstan region"), which it otherwise drops.
_SENTINEL = "\x00"


class Scan:
    """The normalised form of one text (same length as the cleaned text, a space at each end).

    Invisible characters are dropped first (``text`` is that text, ``original`` maps back to
    the text as given) and mixed Latin/Cyrillic tokens of ``joined`` are folded
    (``enrich.tagging.confusables``).
    """

    def __init__(self, text: str, known: Collection[str] = ()) -> None:
        self.cleaned = drop_invisible(text)
        text = self.cleaned.text
        if "[" in text:
            text = _CITATION_RE.sub(lambda m: " " * len(m.group()), text)
        self.text = text
        joined = padded(text)
        # Homoglyphs are folded on the normalised copy (same length): the capital-letter
        # checks read ``text``, where a Cyrillic "А" is as upper-case as a Latin "A".
        self.joined = fold_mixed(joined, known) if may_mix_scripts(joined) else joined

    @staticmethod
    def offset(pos: int) -> int:
        """Offset in ``text`` of the token after the space at ``pos`` of ``joined``."""
        return pos

    def original(self, pos: int) -> int:
        """Offset in the text as given of the token after the space at ``pos``."""
        return self.cleaned.original(pos)


class Matches:
    """What one scan found, filed by kind in text order.

    ``entity_hits`` holds ``(position, entity id)``, ``incident_hits`` ``(start, end,
    pattern)``, ``kz_term_hits`` and ``security_term_hits`` positions, ``domain_hits``
    ``(position, domain)``; positions are indexes of the space before the match in the joined
    string (= character offsets in the cleaned text). Counts, first positions and per-entity
    positions are derived from these on first use.
    """

    def __init__(self, scan: Scan) -> None:
        self.scan = scan
        self.entity_hits: list[tuple[int, str]] = []
        self.incident_hits: list[Hit] = []
        self.kz_term_hits: list[int] = []
        self.security_term_hits: list[int] = []
        self.domain_hits: list[tuple[int, str]] = []
        self._mentions: Counter[str] | None = None
        self._first: dict[str, int] | None = None
        self._positions: dict[str, list[int]] | None = None
        # entity_hits[:split] are in text order; confirmed capital-letter names follow.
        self.split = 0
        self.kz_anchor_positions: list[int] | None = None  # filled by the tagger on demand

    @property
    def mentions(self) -> Counter[str]:
        """Entity id -> number of mentions."""
        if self._mentions is None:
            self._mentions = Counter(ref for _, ref in self.entity_hits)
        return self._mentions

    @property
    def first(self) -> dict[str, int]:
        """Entity id -> position of its first mention."""
        if self._first is None:
            hits = self.entity_hits
            # Reversed, so that the earliest position of each id is the one left standing.
            first = dict((ref, pos) for pos, ref in reversed(hits[: self.split]))
            for pos, ref in hits[self.split :]:
                if pos < first.get(ref, pos + 1):
                    first[ref] = pos
            self._first = first
        return self._first

    @property
    def positions(self) -> dict[str, list[int]]:
        """Entity id -> positions of its mentions, in text order."""
        if self._positions is None:
            positions: dict[str, list[int]] = {}
            for pos, ref in self.entity_hits:
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
        }

    @property
    def domains(self) -> Counter[str]:
        """Story-context domain -> number of its words."""
        return Counter(domain for _, domain in self.domain_hits)

    def first_offset(self, ref: str) -> int:
        """Offset in the original text of the first mention of entity ``ref``."""
        return self.scan.original(self.first[ref])


# One pattern as the hot loop files it: (kind code, ref, anchor, pattern).
Item = tuple[int, str, bool, Pattern]
# What the automaton stores under a key: (key length, items accepted at a token boundary,
# items accepted with an inflection suffix after the key, items accepted with any other
# continuation, capital-letter items pending at a boundary / suffix / continuation). Split at
# build time, so a hit costs one lookup and no per-pattern tests.
Entry = tuple[int, tuple[Item, ...], tuple[Item, ...], tuple[Item, ...], tuple, tuple, tuple]


class Matcher:
    """The compiled automaton plus the matching rules from ``meta.yaml``."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        meta = taxonomy.meta
        self.taxonomy = taxonomy
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
            entry = _entry(len(key), patterns)
            self.entries[key] = entry
            self.automaton.add_word(key, entry)
        self.automaton.make_automaton()
        self.size = len(grouped)
        # Alias tokens, to break a tie when folding a mixed-script token (``confusables``).
        self.known_tokens = frozenset(t for key in grouped for t in key.split())
        fold_tables()  # built once here, not inside the first article
        LOGGER.info("taxonomy automaton: %d keys", self.size)

    def scan(self, text: str) -> Matches:
        """Everything the taxonomy finds in ``text``, filed by kind in one pass over the hits.

        ``^`` and ``?`` aliases wait until the whole text is scanned (their context may come
        later); incident triggers are checked for negation later, once per type.
        """
        scan = Scan(text, self.known_tokens)
        matches = Matches(scan)
        joined = scan.joined
        suffixes, infixes = self.suffixes, self.negative_infixes
        accepted: list[tuple[int, int, tuple[Item, ...]]] = []
        pending: list[tuple[int, int, tuple[Item, ...]]] = []
        for last, entry in self.automaton.iter_long(joined + _SENTINEL):
            end = last + 1
            start = end - entry[0]
            if joined[end] == " ":
                items, waiting = entry[1], entry[4]
            else:
                end = joined.find(" ", end)
                rest = joined[last + 1 : end]
                if rest in suffixes:
                    items, waiting = entry[2], entry[5]
                elif not rest.startswith(infixes):
                    items, waiting = entry[3], entry[6]
                else:
                    items = waiting = ()
                if not items and not waiting:
                    self._shorter(joined, start, last + 1, accepted, pending)
                    continue
            if items:
                accepted.append((start, end, items))
            if waiting:
                pending.append((start, end, waiting))
        anchors = self._file(matches, accepted)
        matches.split = len(matches.entity_hits)
        for start, end, waiting in pending:
            for item in waiting:
                # In text order, one pattern at a time: a confirmed sure name confirms later
                # ambiguous ones nearby, as any other anchor does.
                if self._confirmed(scan, start, end, item[3].ambiguous, anchors):
                    anchors += self._file(matches, [(start, end, (item,))])
        return matches

    @staticmethod
    def _file(matches: Matches, hits: list[tuple[int, int, tuple[Item, ...]]]) -> list[int]:
        """File accepted hits by kind; returns the positions of Kazakhstan terms and sure
        entities (what confirms an ambiguous alias nearby)."""
        entities, incidents = matches.entity_hits, matches.incident_hits
        kz_terms, security, domains = (
            matches.kz_term_hits,
            matches.security_term_hits,
            matches.domain_hits,
        )
        anchors: list[int] = []
        for start, end, items in hits:
            for code, ref, anchor, pattern in items:
                if code == ENTITY:
                    entities.append((start, ref))
                    if anchor:
                        anchors.append(start)
                elif code == INCIDENT:
                    incidents.append((start, end, pattern))
                elif code == SECURITY_TERM:
                    security.append(start)
                elif code == KZ_TERM:
                    kz_terms.append(start)
                    anchors.append(start)
                else:
                    domains.append((start, ref))
        return anchors

    def _shorter(
        self,
        joined: str,
        start: int,
        end: int,
        accepted: list[tuple[int, int, tuple[Item, ...]]],
        pending: list[tuple[int, int, tuple[Item, ...]]],
    ) -> None:
        """The longest key failed its boundary: try keys ending at earlier token ends."""
        cut = joined.rfind(" ", start + 1, end)
        while cut > start:
            entry = self.entries.get(joined[start:cut])
            if entry is not None:
                if entry[1]:
                    accepted.append((start, cut, entry[1]))
                if entry[4]:
                    pending.append((start, cut, entry[4]))
                return
            cut = joined.rfind(" ", start + 1, cut)

    def incidents(self, matches: Matches) -> set[str]:
        """Incident types with at least one trigger that is not negated ("not a bombing")."""
        found: set[str] = set()
        for hit in matches.incident_hits:
            ref = hit[PATTERN].ref
            if ref not in found and not self._negated(matches.scan, hit):
                found.add(ref)
        return found

    def _negated(self, scan: Scan, hit: Hit) -> bool:
        joined, start, end = scan.joined, hit[START], hit[END]
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


def _entry(length: int, patterns: tuple[Pattern, ...]) -> Entry:
    """Split a key's patterns by the continuation that accepts them and by the capital test."""

    def items(selected: list[Pattern]) -> tuple[tuple[Item, ...], tuple[Item, ...]]:
        made = [(_KIND_CODES[p.kind], p.ref, p.anchor, p) for p in selected]
        plain = tuple(i for i in made if not i[3].capital)
        return plain, tuple(i for i in made if i[3].capital)

    boundary, boundary_wait = items(list(patterns))
    # With an inflection suffix after the key: stems (a ``*`` key is a stem too); with any
    # other continuation that is not a Kazakh negative infix: ``*`` keys.
    suffixed, suffixed_wait = items([p for p in patterns if p.stem or p.prefix])
    free, free_wait = items([p for p in patterns if p.prefix])
    return (length, boundary, suffixed, free, boundary_wait, suffixed_wait, free_wait)


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
