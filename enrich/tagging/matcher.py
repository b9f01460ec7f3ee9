"""One Aho-Corasick pass over the normalised token string, then boundary and context checks.

The text is folded and tokenised (``normalize``), the tokens joined by single spaces with a
space at each end, and every key (a space followed by the alias tokens) found in one pass.
A hit counts when it ends at a token boundary, or, for a stem key, when the rest of the token
is an inflection suffix from ``meta.yaml`` — so "Актюбинской" matches the stem "актюбинск" and
"Aktobe" never matches inside "Aktobeneft". Overlapping hits resolve leftmost-longest (so
"Aktobe region" is the region, not the city, and blockers such as "Moscow Times" swallow
"Moscow").
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass

import ahocorasick

from enrich.tagging.normalize import WORD_RE, fold
from enrich.tagging.taxonomy import Pattern, Taxonomy, iter_patterns, suffix_set

LOGGER = logging.getLogger(__name__)

# Source citations such as "(Tengri News [Almaty], April 1, 2010)" name where a cited outlet is
# published, not what the article is about: a capitalised bracketed insertion followed by a
# comma or closing parenthesis is blanked (same length, so offsets stay valid).
_CITATION_RE = re.compile(r"\[[A-Z][\w .'-]{1,30}\](?=[,)])")


@dataclass(frozen=True)
class Hit:
    """One accepted match: character span in the joined token string and its pattern."""

    start: int  # index of the space before the first token
    end: int  # index one past the last character of the last token
    pattern: Pattern


class Scan:
    """The normalised form of one text and lazy maps back to the original offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        if "[" in text:
            text = _CITATION_RE.sub(lambda m: " " * len(m.group()), text)
        self.folded = fold(text)
        self.joined = " " + " ".join(WORD_RE.findall(self.folded)) + " "
        self._starts: list[int] = []
        self._iter = WORD_RE.finditer(self.folded)

    def token_index(self, pos: int) -> int:
        """Index of the token that starts right after the space at ``pos`` of ``joined``."""
        return self.joined.count(" ", 0, pos + 1) - 1

    def offset(self, token_index: int) -> int:
        """Character offset in the original text of token ``token_index``."""
        need = token_index + 1 - len(self._starts)
        if need > 0:
            self._starts += [m.start() for m in itertools.islice(self._iter, need)]
        return self._starts[token_index]


class Matcher:
    """The compiled automaton plus the matching rules from ``meta.yaml``."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        meta = taxonomy.meta
        self.taxonomy = taxonomy
        self.suffixes = suffix_set(meta)
        self.negators_before = {w.lower() for w in meta.negators_before}
        self.negators_after = {w.lower() for w in meta.negators_after}
        self.negation_window = meta.negation_window
        self.negative_infixes = tuple(meta.kk_negative_infixes)
        # The context window is counted in tokens; a token averages ~7 characters in the
        # joined string (measured on the sample articles), so the character window is 7x.
        self.context_chars = meta.context_window * 7
        self.automaton = ahocorasick.Automaton()
        grouped: dict[str, dict[tuple[str, str], Pattern]] = {}
        for key, pattern in iter_patterns(taxonomy):
            by_ref = grouped.setdefault(key, {})
            seen = by_ref.get((pattern.kind, pattern.ref))
            # The same key from two languages (ru "?Семей", kk "Семей") keeps the strictest
            # conditions and the widest inflection.
            by_ref[(pattern.kind, pattern.ref)] = pattern if seen is None else _merge(seen, pattern)
        for key, by_ref in grouped.items():
            self.automaton.add_word(key, (len(key), tuple(by_ref.values())))
        self.automaton.make_automaton()
        self.size = len(grouped)
        LOGGER.info("taxonomy automaton: %d keys", self.size)

    def scan(self, text: str) -> tuple[Scan, list[Hit]]:
        """All accepted, non-overlapping hits in ``text`` (in text order)."""
        scan = Scan(text)
        candidates = self._candidates(scan.joined)
        hits = _leftmost_longest(candidates)
        hits = [h for h in hits if h.pattern.kind != "block"]
        hits = [h for h in hits if not (h.pattern.kind == "incident" and self._negated(scan, h))]
        return scan, self._disambiguate(scan, hits)

    def _candidates(self, joined: str) -> list[Hit]:
        out = []
        for last, (length, patterns) in self.automaton.iter(joined):
            start, end = last - length + 1, last + 1
            if joined[end] == " ":
                out += [Hit(start, end, p) for p in patterns]
                continue
            token_end = joined.find(" ", end)
            rest = joined[end:token_end]
            inflected = rest in self.suffixes
            free = not rest.startswith(self.negative_infixes)
            out += [
                Hit(start, token_end, p)
                for p in patterns
                if (p.stem and inflected) or (p.prefix and free)
            ]
        return out

    def _negated(self, scan: Scan, hit: Hit) -> bool:
        before = scan.joined[max(0, hit.start - 40) : hit.start].split()[-self.negation_window :]
        after = scan.joined[hit.end : hit.end + 20].split()[:1]
        return bool(self.negators_before.intersection(before)) or bool(
            self.negators_after.intersection(after)
        )

    def _disambiguate(self, scan: Scan, hits: list[Hit]) -> list[Hit]:
        """Apply the capital-letter and context conditions of ``^`` and ``?`` aliases."""
        if not any(h.pattern.capital for h in hits):
            return hits
        anchors = [
            h.start
            for h in hits
            if h.pattern.kind in ("cue", "kz_term")
            or (h.pattern.kind == "entity" and not h.pattern.ambiguous)
        ]
        return [h for h in hits if not h.pattern.capital or self._confirmed(scan, h, anchors)]

    def _confirmed(self, scan: Scan, hit: Hit, anchors: list[int]) -> bool:
        offset = scan.offset(scan.token_index(hit.start))
        if not scan.text[offset : offset + 1].isupper():
            return False
        if not hit.pattern.ambiguous:
            return True
        if _sentence_initial(scan.text, offset):
            # Capitalised only because it starts a sentence or a title: needs a cue as the very
            # next token ("Oral city", "Орал қаласында").
            return hit.end in anchors
        return any(abs(pos - hit.start) <= self.context_chars for pos in anchors)


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
    )


def _leftmost_longest(candidates: list[Hit]) -> list[Hit]:
    """Resolve overlaps: earliest start first, then the longest; equal spans all kept."""
    candidates.sort(key=lambda h: (h.start, -h.end))
    out: list[Hit] = []
    reach = -1
    span: tuple[int, int] | None = None
    for hit in candidates:
        if span == (hit.start, hit.end):
            out.append(hit)
        elif hit.start >= reach:
            out.append(hit)
            span, reach = (hit.start, hit.end), hit.end
    return out
