"""Names and figures an article shares with reports in other languages.

The taxonomy's ids link languages for places, groups, people and security bodies; most
stories also name things the taxonomy does not hold: a plane's operator and model (Bek Air,
Fokker), a mine (Kostenko), a tournament and a player (Wimbledon, Rybakina), villages of a
gazetteer gap (Masanchi), an attacker (Kulekbayev). Europe Media Monitor links clusters
across languages through such names; here each capitalised word inside a sentence becomes a
script-independent *key*: transliterated to Latin, case endings of Russian and Kazakh cut,
vowels dropped (Rybakina, Рыбакина and Рыбакинаның all give ``rbkn``). Words the taxonomy
already names, and capitalised common words (``names.yaml``), are left out. Distinctive
numbers (``#192``, ``#80000``: not small numbers, years or day numbers) are keys too.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path

import yaml

LOGGER = logging.getLogger(__name__)

DATA_FILE = Path(__file__).resolve().parent / "names.yaml"
#: Consonants kept per key: enough to tell names apart, few enough that inflection and
#: spelling variants (Kulekbayev / Кулекбаев / Кулекбаева) agree.
KEY_CONSONANTS = 4
#: Shorter skeletons are too common to mean anything.
MIN_CONSONANTS = 3
#: Keys kept per article (in order of first appearance).
MAX_NAMES = 12
MAX_NUMBERS = 6
#: Numbers from this value up are distinctive enough to link reports ("192 injured").
MIN_NUMBER = 11

_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*")
_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:[,\u00a0 ]\d{3})+(?![\d])|(?<![\d.,])\d+(?![\d.,]\d)")
_SENTENCE_END = re.compile(r"[.!?…:;\n«\"“(]\s*$")
_VOWELS = frozenset("aeiouy")


@cache
def _tables() -> dict:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


@cache
def _translit() -> dict[str, str]:
    return dict(_tables()["transliteration"].items())


@cache
def _endings() -> tuple[str, ...]:
    return tuple(sorted(_tables()["cyrillic_endings"], key=len, reverse=True))


def skeleton(word: str) -> str:
    """The script-independent key of a name ("" when too short to mean anything)."""
    low = word.lower().replace("’", "'").split("'")[0]
    if not low.isascii():
        for ending in _endings():
            if low.endswith(ending) and len(low) - len(ending) >= 4:
                low = low[: -len(ending)]
                break
        table = _translit()
        low = "".join(table.get(ch, ch) for ch in low)
    for a, b in _tables()["digraphs"]:
        low = low.replace(a, b)
    consonants = []
    for ch in low:
        if ch in _VOWELS or not ch.isalpha():
            continue
        if consonants and consonants[-1] == ch:
            continue
        consonants.append(ch)
    if len(consonants) < MIN_CONSONANTS:
        return ""
    return "".join(consonants[:KEY_CONSONANTS])


@cache
def _stopped() -> frozenset[str]:
    """Keys of capitalised common words and of every name the taxonomy holds."""
    keys = {skeleton(w) for words in _tables()["stopwords"].values() for w in words}
    from enrich.tagging.taxonomy import load_taxonomy

    for entity in load_taxonomy().entities.values():
        for name in [entity.name, *(a for lang in entity.aliases.values() for a in lang)]:
            for word in _WORD.findall(name.lstrip("?^").rstrip("~*")):
                keys.add(skeleton(word))
    keys.discard("")
    return frozenset(keys)


def name_keys(title: str, text: str) -> list[str]:
    """Keys of the names an article uses (capitalised words inside sentences), in order."""
    stopped = _stopped()
    out: list[str] = []
    parts = [text] if _title_case(title) else [title, text]
    for part in parts:
        for m in _WORD.finditer(part or ""):
            word = m.group()
            if not word[0].isupper() or (len(word) > 1 and word.isupper()):
                continue
            if part is text and _SENTENCE_END.search(text[max(0, m.start() - 3) : m.start()]):
                continue
            if part is text and m.start() == 0:
                continue
            key = skeleton(word)
            if key and key not in stopped and key not in out:
                out.append(key)
                if len(out) >= MAX_NAMES:
                    return out
    return out


#: A title with at least this share of capitalised words is in headline case ("Gunmen
#: Attack Gun Shops"): its capitals say nothing.
TITLE_CASE_SHARE = 0.6


def _title_case(title: str) -> bool:
    words = _WORD.findall(title or "")
    if len(words) < 3:
        return False
    return sum(1 for w in words if w[0].isupper()) >= TITLE_CASE_SHARE * len(words)


def number_keys(text: str) -> list[str]:
    """Distinctive numbers of a text (dates blanked; "80 тысяч" and "80,000" agree)."""
    from kzmon.stories.numbers import mask_dates

    masked = mask_dates(text or "")
    thousands = re.compile(r"\s*(?:thousand|тысяч[аи]?|мың)", re.IGNORECASE)
    out: list[str] = []
    for m in _NUMBER.finditer(masked):
        value = int(re.sub(r"\D", "", m.group()))
        if thousands.match(masked, m.end()):
            value *= 1000
        if value < MIN_NUMBER or 1900 <= value <= 2100:
            continue
        key = f"#{value}"
        if key not in out:
            out.append(key)
            if len(out) >= MAX_NUMBERS:
                break
    return out
