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
from collections.abc import Collection, Iterator

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


# One accepted match: (start, end, pattern). ``start`` is the index in the joined string of the
# space before the first token, ``end`` the index of the space after the last token. Plain
# tuples: the hot loop creates ~100 per article.
Hit = tuple[int, int, Pattern]
START, END, PATTERN = 0, 1, 2


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
    """What one scan found: entity mentions, first positions, term counts, incident hits."""

    def __init__(self, scan: Scan) -> None:
        self.scan = scan
        self.mentions: dict[str, int] = {}
        self.first: dict[str, int] = {}  # entity id -> position in the joined string
        self.kinds: dict[str, int] = {}
        self.incident_hits: list[Hit] = []
        self.domains: dict[str, int] = {}
        # Every accepted hit as (position, kind, ref): the relevance model's co-occurrences.
        self.hits: list[tuple[int, str, str]] = []
        self.positions: dict[str, list[int]] = {}  # entity id -> positions of its mentions
        self.kz_anchor_positions: list[int] | None = None  # filled by the tagger on demand
        self.anchors: list[int] = []  # Kazakhstan terms and sure entities (for ? aliases)

    def count(self, start: int, end: int, pattern: Pattern) -> None:
        """Add one accepted hit (``end`` is unused but keeps the hit's shape)."""
        kind = pattern.kind
        kinds = self.kinds
        kinds[kind] = kinds.get(kind, 0) + 1
        self.hits.append((start, kind, pattern.ref))
        if kind == "domain":
            self.domains[pattern.ref] = self.domains.get(pattern.ref, 0) + 1
            return
        if kind == "entity":
            ref = pattern.ref
            self.mentions[ref] = self.mentions.get(ref, 0) + 1
            self.positions.setdefault(ref, []).append(start)
            if ref not in self.first or start < self.first[ref]:
                self.first[ref] = start
            if pattern.anchor:
                self.anchors.append(start)
        elif kind == "incident":
            self.incident_hits.append((start, end, pattern))
        elif kind == "kz_term":
            self.anchors.append(start)

    def first_offset(self, ref: str) -> int:
        """Offset in the original text of the first mention of entity ``ref``."""
        return self.scan.original(self.first[ref])


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
        self.automaton = ahocorasick.Automaton()
        grouped: dict[str, dict[tuple[str, str], Pattern]] = {}
        for key, pattern in iter_patterns(taxonomy):
            by_ref = grouped.setdefault(key, {})
            seen = by_ref.get((pattern.kind, pattern.ref))
            # The same key from two languages (ru "?Семей", kk "Семей") keeps the strictest
            # conditions and the widest inflection.
            by_ref[(pattern.kind, pattern.ref)] = pattern if seen is None else _merge(seen, pattern)
        for key, by_ref in grouped.items():
            patterns = tuple(p for p in by_ref.values() if p.kind != "block")
            self.automaton.add_word(key, (len(key), patterns))
        self.automaton.make_automaton()
        self.size = len(grouped)
        # Alias tokens, to break a tie when folding a mixed-script token (``confusables``).
        self.known_tokens = frozenset(t for key in grouped for t in key.split())
        fold_tables()  # built once here, not inside the first article
        LOGGER.info("taxonomy automaton: %d keys", self.size)

    def scan(self, text: str) -> Matches:
        """Everything the taxonomy finds in ``text``, tallied in one pass over the hits.

        ``^`` and ``?`` aliases wait until the whole text is scanned (their context may come
        later); incident triggers are checked for negation later, once per type.
        """
        scan = Scan(text, self.known_tokens)
        matches = Matches(scan)
        pending: list[Hit] = []
        count = matches.count
        for start, end, pattern in self._hits(scan.joined):
            if pattern.capital:
                pending.append((start, end, pattern))
            else:
                count(start, end, pattern)
        for start, end, pattern in pending:
            if self._confirmed(scan, (start, end, pattern), matches.anchors):
                count(start, end, pattern)
        return matches

    def _hits(self, joined: str) -> Iterator[Hit]:
        """Accepted hits in text order (boundary and inflection checked)."""
        for last, (length, patterns) in self.automaton.iter_long(joined):
            start, end = last - length + 1, last + 1
            if joined[end] == " ":
                for pattern in patterns:
                    yield start, end, pattern
                continue
            end = joined.find(" ", end)
            accepted = self._inflected(joined[last + 1 : end], patterns)
            if accepted:
                for pattern in accepted:
                    yield start, end, pattern
            else:
                yield from self._shorter(joined, start, last + 1)

    def _inflected(self, rest: str, patterns: tuple[Pattern, ...]) -> list[Pattern]:
        inflected = rest in self.suffixes
        free = not rest.startswith(self.negative_infixes)
        return [p for p in patterns if (p.stem and inflected) or (p.prefix and free)]

    def _shorter(self, joined: str, start: int, end: int) -> list[Hit]:
        """The longest key failed its boundary: try keys ending at earlier token ends."""
        cut = joined.rfind(" ", start + 1, end)
        while cut > start:
            found = self.automaton.get(joined[start:cut], None)
            if found is not None:
                return [(start, cut, p) for p in found[1]]
            cut = joined.rfind(" ", start + 1, cut)
        return []

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

    def _confirmed(self, scan: Scan, hit: Hit, anchors: list[int]) -> bool:
        start, end, pattern = hit
        offset = scan.offset(start)
        if not scan.text[offset : offset + 1].isupper():
            return False
        if not pattern.ambiguous:
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
