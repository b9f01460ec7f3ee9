"""Region names listed under one plural admin word: "Aktobe and Atyrau regions".

The automaton reads "Atyrau regions" as Atyrau Region and the "Aktobe" before it as the city
of Aktobe; but a list closed by a plural admin word names regions only:

- "Aktobe, Atyrau and Mangystau regions" (en), "Атырау және Маңғыстау облыстарында" (kk): the
  names before the last region, joined by commas or ``meta.yaml: list_conjunctions``;
- "в Атырауской и Мангистауской областях" (ru): the regions' adjectives, which nothing else
  matches.

``RegionLists.apply`` rewrites those names of one scan's ``entity_hits`` (a city hit becomes its
region; an adjective with no hit gets one) before anything counts them. It looks only behind
hits of a region whose last token is a plural admin word, so most articles cost one set test.
"""

from __future__ import annotations

import bisect
import logging

from enrich.tagging.matcher import Matches
from enrich.tagging.normalize import normalise
from enrich.tagging.taxonomy import Taxonomy, expand_braces

LOGGER = logging.getLogger(__name__)

# The longest region name in tokens ("North Kazakhstan", "Восточно-Казахстанской").
_MAX_NAME_TOKENS = 2
# Comma, semicolon or conjunction: at most this many characters between two names of a list.
_GAP_CHARS = 16


def _key(text: str) -> str:
    return " ".join(normalise(text).split())


class RegionLists:
    """The region names, plural admin words and conjunctions of the taxonomy."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        meta = taxonomy.meta
        self.names: dict[str, str] = {}  # normalised bare name -> region id
        for entity in taxonomy.entities.values():
            for names in entity.region_names.values():
                for name in names:
                    for variant in expand_braces(name):
                        self.names.setdefault(_key(variant.rstrip("~")), entity.id)
        self.regions = frozenset(self.names.values())
        words = [w for lang in meta.plural_admin_words.values() for w in lang]
        self.plural_words = frozenset(_key(w) for w in words if not w.endswith("~"))
        self.plural_stems = tuple(_key(w.rstrip("~")) for w in words if w.endswith("~"))
        conj = [w for lang in meta.list_conjunctions.values() for w in lang]
        self.conjunctions = frozenset(_key(w) for w in conj)

    def apply(self, matches: Matches) -> None:
        """Rewrite the listed names of ``matches.entity_hits`` (in place, before counting)."""
        regions = self.regions
        hits = matches.entity_hits[: matches.split]
        closers = [h for h in hits if h[2] in regions and self._plural(matches, h)]
        for start, _, ref in closers:
            self._rewrite(matches, start, ref)

    def _plural(self, matches: Matches, hit: tuple[int, int, str]) -> bool:
        joined = matches.scan.joined
        last = joined[joined.rfind(" ", hit[0], hit[1] - 1) + 1 : hit[1]].strip()
        return last in self.plural_words or last.startswith(self.plural_stems)

    def _rewrite(self, matches: Matches, start: int, ref: str) -> None:
        """Walk back from the closing region's hit over ``name (,|conj) name ...``."""
        joined, text = matches.scan.joined, matches.scan.text
        cursor = start  # the space before the current list item
        while True:
            gap_start = self._gap(joined, text, cursor)
            if gap_start is None:
                return
            found = self._name_before(joined, gap_start)
            if found is None:
                return
            name_start, region = found
            self._replace(matches, name_start, gap_start, region)
            cursor = name_start

    def _gap(self, joined: str, text: str, cursor: int) -> int | None:
        """Where the separator before ``cursor`` starts (a comma or a conjunction), or None."""
        low = max(0, cursor - _GAP_CHARS)
        before = joined[low:cursor].rstrip()
        tokens = before.split()
        for n in (3, 2, 1):
            words = " ".join(tokens[-n:]) if len(tokens) >= n else None
            if words in self.conjunctions:
                return joined.rfind(" ", 0, low + len(before) - len(words))
        end = low + len(before)
        # ``joined`` has a leading space: its index i is ``text``'s i - 1.
        if "," in text[end - 1 : cursor] or ";" in text[end - 1 : cursor]:
            return end
        return None

    def _name_before(self, joined: str, end: int) -> tuple[int, str] | None:
        """The longest region name ending at ``end`` (a space): (its start space, region)."""
        pos, found = end, None
        for _ in range(_MAX_NAME_TOKENS):
            token_end = pos
            while token_end > 0 and joined[token_end - 1] == " ":
                token_end -= 1  # a comma or a quote before this token is a space too
            pos = joined.rfind(" ", 0, token_end)
            if pos < 0:
                break
            region = self.names.get(" ".join(joined[pos + 1 : end].split()))
            if region is not None:
                found = (pos, region)
        return found

    @staticmethod
    def _replace(matches: Matches, start: int, end: int, region: str) -> None:
        """The hit at ``start`` (if any) becomes ``region``; else one is inserted."""
        hits = matches.entity_hits
        split = matches.split
        i = bisect.bisect_left(hits, (start,), 0, split)
        if i < split and hits[i][0] == start:
            hits[i] = (start, hits[i][1], region)
            return
        hits.insert(i, (start, end, region))
        matches.split = split + 1
