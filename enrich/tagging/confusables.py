"""Homoglyphs and invisible characters, undone before matching (issue #13 item 4).

A Latin/Cyrillic homoglyph ("Аtyrau" with a Cyrillic А, "Aтырау" with a Latin A) or a
zero-width character inside a word ("Aty\u200brau") hides a name from exact matching. Before
the automaton runs, the tagger:

1. drops invisible format characters (zero-width space/joiners, word joiner, BOM, soft hyphen,
   directional marks and embeddings/isolates: ``INVISIBLE``), remembering where they were so
   that ``first_offset`` still points into the original text;
2. folds every token that mixes Latin and Cyrillic letters toward the script most of its
   letters are in, letter by letter through Unicode's confusables table (UTS #39
   ``confusables.txt`` as shipped by the ``confusable-homoglyphs`` package), restricted to
   pairs of the same case whose Cyrillic side is a Russian or Kazakh letter, plus the
   lower-case forms of the upper-case pairs (the fold runs on lower-cased text). A tie is broken
   toward the script in which the folded token is a known alias token, else toward the
   script of the token's first letter. Tokens written in one script are never touched, so
   real Cyrillic names (Ақтөбе, Өскемен) and Latin ones stay as they are; a Kazakh word typed
   with a Latin "i" for "і" (a common keyboard habit) is folded to Cyrillic too.

The tagger runs the fold on its normalised (lower-cased) copy of the text, after a test on
the UTF-8 bytes (``may_mix_scripts``); with nothing to undo, both steps cost one
single-class regular-expression search and one ``bytes.translate``.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache

from enrich.tagging.normalize import INVISIBLE

LOGGER = logging.getLogger(__name__)

_LATIN = "A-Za-z"
_CYRILLIC = "\u0400-\u04ff"
# Russian and Kazakh letters: what a Latin letter may be folded to.
_RU_KK = frozenset(
    "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюяӘәҒғҚқҢңӨөҰұҮүҺһІі"
)
# Pairs UTS #39 lists that read as different letters in ordinary fonts (r/г is italic only).
_EXCLUDED = frozenset({("r", "г")})
# Anything to undo: an invisible character, or a Latin letter next to a Cyrillic one (a token
# mixing the two scripts has such a pair somewhere).
_TRIGGER_RE = re.compile(f"[{INVISIBLE}]|[{_LATIN}][{_CYRILLIC}]|[{_CYRILLIC}][{_LATIN}]")
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")
# Classes of the UTF-8 bytes of a normalised string (lower case, punctuation already spaces):
# "L" a Latin letter, "C" the lead byte of a Cyrillic letter (0xD0-0xD3), "c" a continuation
# byte. A mixed token has "LC" or "cL" somewhere; two bytes.find calls, no regex.
_BYTE_CLASSES = bytes(
    ord("L")
    if chr(b).isascii() and chr(b).isalpha()
    else ord("C")
    if 0xD0 <= b <= 0xD3
    else ord("c")
    if 0x80 <= b <= 0xBF
    else ord(" ")
    for b in range(256)
)
_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class FoldTables:
    """``str.translate`` tables toward each script."""

    to_latin: dict[int, str]
    to_cyrillic: dict[int, str]
    # The second Cyrillic reading of a Latin letter, a Kazakh one (y → ү beside у).
    to_kazakh: dict[int, str]


@cache
def fold_tables() -> FoldTables:
    """Latin ⇄ Cyrillic single-letter confusables from Unicode's data (built once)."""
    from confusable_homoglyphs import categories, confusables

    to_latin: dict[int, str] = {}
    to_cyrillic: dict[int, str] = {}
    to_kazakh: dict[int, str] = {}
    for char, items in sorted(confusables.confusables_data.items()):
        if len(char) != 1:
            continue
        for item in items:
            other = item["c"]
            if len(other) != 1:
                continue
            pair = _pair(char, other, categories.alias(char), categories.alias(other))
            if pair is None or pair in _EXCLUDED:
                continue
            latin, cyrillic = pair
            to_latin.setdefault(ord(cyrillic), latin)
            if cyrillic in _RUSSIAN:
                to_cyrillic.setdefault(ord(latin), cyrillic)
            elif cyrillic in _RU_KK:
                to_kazakh.setdefault(ord(latin), cyrillic)
    # The tagger folds its lower-cased copy of the text, where an upper-case homoglyph ("К" in
    # "Кhilafah") has become lower-case: the lower-case forms of upper-case pairs belong in.
    for code, latin in list(to_latin.items()):
        to_latin.setdefault(ord(chr(code).lower()), latin.lower())
    for code, cyrillic in list(to_cyrillic.items()):
        to_cyrillic.setdefault(ord(chr(code).lower()), cyrillic.lower())
    for code, letter in to_kazakh.items():
        to_cyrillic.setdefault(code, letter)  # i → і: no Russian reading at all
    kazakh = {code: letter for code, letter in to_kazakh.items() if to_cyrillic[code] != letter}
    return FoldTables(to_latin=to_latin, to_cyrillic=to_cyrillic, to_kazakh=kazakh)


_RUSSIAN = frozenset(ch for ch in _RU_KK if "\u0410" <= ch <= "\u044f" or ch in "Ёё")
_KAZAKH_LETTERS = _RU_KK - _RUSSIAN


def _pair(a: str, b: str, script_a: str, script_b: str) -> tuple[str, str] | None:
    """``(latin, cyrillic)`` when one is a basic Latin letter, the other Cyrillic, same case."""
    if {script_a, script_b} != {"LATIN", "CYRILLIC"}:
        return None
    latin, cyrillic = (a, b) if script_a == "LATIN" else (b, a)
    if not (latin.isascii() and latin.isalpha()) or latin.isupper() != cyrillic.isupper():
        return None
    return latin, cyrillic


def _script_counts(token: str) -> tuple[int, int]:
    latin = sum(1 for ch in token if ch.isascii() and ch.isalpha())
    cyrillic = sum(1 for ch in token if "\u0400" <= ch <= "\u04ff")
    return latin, cyrillic


def fold_token(token: str, known: Collection[str] = ()) -> str:
    """``token`` with its minority-script letters replaced by their confusables."""
    latin, cyrillic = _script_counts(token)
    if not latin or not cyrillic:
        return token
    tables = fold_tables()
    as_latin = token.translate(tables.to_latin)
    as_cyrillic = _to_cyrillic(token, tables, known)
    if latin != cyrillic:
        return as_latin if latin > cyrillic else as_cyrillic
    lat_known, cyr_known = as_latin.lower() in known, as_cyrillic.lower() in known
    if lat_known != cyr_known:
        return as_latin if lat_known else as_cyrillic
    return as_latin if token[0].isascii() else as_cyrillic


def _to_cyrillic(token: str, tables: FoldTables, known: Collection[str]) -> str:
    """Russian readings first; the Kazakh ones (y → ү) in a Kazakh word or a known alias."""
    russian = token.translate(tables.to_cyrillic)
    kazakh = token.translate(tables.to_kazakh).translate(tables.to_cyrillic)
    if kazakh == russian:
        return russian
    if kazakh.lower() in known and russian.lower() not in known:
        return kazakh
    kazakh_word = not _KAZAKH_LETTERS.isdisjoint(token)
    return kazakh if kazakh_word and russian.lower() not in known else russian


def fold_mixed(text: str, known: Collection[str] = ()) -> str:
    """``text`` with every mixed-script token folded (same length, same offsets).

    The mixed tokens are found from the UTF-8 byte classes (``may_mix_scripts``): a Latin
    letter byte next to a Cyrillic one. Two ``bytes.find`` loops, no regular expression over
    the text (a pattern of alternatives costs more than a tokenising pass).
    """
    encoded = text.encode("utf-8")
    classes = encoded.translate(_BYTE_CLASSES)
    spots = _pair_bytes(classes, b"LC", 0) + _pair_bytes(classes, b"cL", 1)
    if not spots:
        return text
    pieces: list[str] = []
    last = 0
    done_until = -1
    for spot in sorted(spots):
        pos = len(encoded[:spot].decode("utf-8"))  # the byte offset of a letter as a char offset
        if pos < done_until:
            continue
        word = _WORD_RE.match(text, _word_start(text, pos))
        if word is None:
            continue
        start, end = word.span()
        folded = fold_token(word.group(), known)
        if folded != word.group():
            pieces += [text[last:start], folded]
            last = end
        done_until = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _pair_bytes(classes: bytes, pair: bytes, shift: int) -> list[int]:
    """Byte offsets of the letters where ``pair`` occurs in ``classes`` (``shift`` moves from
    a continuation byte to the Latin letter after it)."""
    out = []
    i = classes.find(pair)
    while i >= 0:
        out.append(i + shift)
        i = classes.find(pair, i + 1)
    return out


def _word_start(text: str, pos: int) -> int:
    while pos > 0 and (text[pos - 1].isalnum() or text[pos - 1] == "_"):
        pos -= 1
    return pos


def may_mix_scripts(normalised: str, encoded: bytes | None = None) -> bool:
    """Cheap test: can ``normalised`` hold a token mixing Latin and Cyrillic letters?
    (``encoded``: its UTF-8 bytes, when the caller has them.)"""
    if normalised.isascii():
        return False
    classes = (encoded or normalised.encode("utf-8")).translate(_BYTE_CLASSES)
    return b"LC" in classes or b"cL" in classes


def drop_invisible(text: str) -> Cleaned:
    """``text`` without invisible characters, with the map back to the original offsets."""
    if _INVISIBLE_RE.search(text) is None:
        return Cleaned(text, [])
    positions = [m.start() for m in _INVISIBLE_RE.finditer(text)]
    shifts = [pos - k for k, pos in enumerate(positions)]
    return Cleaned(_INVISIBLE_RE.sub("", text), shifts)


@dataclass
class Cleaned:
    """A text with invisible characters dropped and homoglyphs folded, and the way back."""

    text: str
    # Position in ``text`` where each dropped character would have been, minus one per earlier
    # drop: ``original(p) = p + bisect_right(self._shifts, p)``.
    _shifts: list[int]

    @property
    def shifted(self) -> bool:
        """True when characters were dropped (offsets differ from the original's)."""
        return bool(self._shifts)

    def original(self, pos: int) -> int:
        """Offset in the original text of position ``pos`` of the cleaned text."""
        return pos + bisect.bisect_right(self._shifts, pos) if self._shifts else pos


def clean(text: str, known: Collection[str] = ()) -> Cleaned:
    """Drop invisible characters and fold mixed-script tokens (what the tagger sees)."""
    cleaned = drop_invisible(text)
    if _TRIGGER_RE.search(cleaned.text) is not None:
        cleaned.text = fold_mixed(cleaned.text, known)
    return cleaned
