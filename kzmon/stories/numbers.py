"""Casualty and arrest counts reported in English, Russian and Kazakh.

"killed seven people", "At least 17 people were killed", "погибли не менее 14 человек",
"бір адам қаза тапты", "more than 3,000 people had been detained": a number (digits or
number words of the three languages) counts when it stands next to a trigger of its kind
(killed / ранены / ұсталды, in ``numbers.yaml``) with a person noun beside it, inside one
sentence. Sentences that name another year than the event's are background ("in 2011 ...
claimed almost two dozen lives") and are skipped. "No one was killed" gives 0.

An article's count of a kind is the largest one it states (a report states the total and
then its parts: "17 killed ... three servicemen and three civilians"). Counts are
``(low, high)`` pairs; merged across reports they become the incident's ``{min, max}``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

LOGGER = logging.getLogger(__name__)

DATA_FILE = Path(__file__).resolve().parent / "numbers.yaml"
KINDS = ("fatalities", "injured", "arrested")
#: Tokens allowed between a number and a later trigger inside one clause
#: ("18 members of the security forces had been killed": 7).
MAX_GAP = 7
#: Tokens after a number in which its person noun must come ("three Kazakh servicemen").
NOUN_WINDOW = 3
#: Counts above this are not casualty figures of one incident (a population, a budget).
MAX_COUNT = 100_000
#: A report's count below 1/PARTIAL_SHARE of the largest is a partial figure.
PARTIAL_SHARE = 3

_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")
_TOKEN = re.compile(r"\d{1,3}(?:[,\u00a0 ]\d{3})+(?!\d)|\d+|[^\W\d_]+(?:-[^\W\d_]+)*|[,;:()—–]")
_BARRIERS = frozenset(",;:()—–")
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")


@dataclass(frozen=True)
class Count:
    """A reported count: at least ``low``, at most ``high``."""

    low: int
    high: int


@cache
def _tables() -> dict:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


@cache
def _number_words(language: str) -> dict[str, int]:
    """Number words of one language (Russian "он" is "he", Kazakh "он" is ten)."""
    out: dict[str, int] = {}
    for lang, words in _tables()["number_words"].items():
        if language and lang != language:
            continue
        for word, value in words.items():
            for form in str(word).split("|"):
                out[form] = int(value)
    return out


@cache
def _word_set(section: str) -> frozenset[str]:
    return frozenset(w for words in _tables()[section].values() for w in words)


@cache
def _tolls() -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(p.split()) for p in _tables()["toll_triggers"])


@cache
def _triggers() -> dict[str, list[tuple[str, ...]]]:
    """Trigger phrases per kind as token tuples; a final ``*`` is a prefix."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for kind in KINDS:
        phrases = [p for words in _tables()["triggers"][kind].values() for p in words]
        out[kind] = sorted((tuple(p.lower().split()) for p in phrases), key=len, reverse=True)
    return out


@cache
def _none_phrases() -> dict[str, list[str]]:
    return {kind: [p.lower() for p in ps] for kind, ps in _tables()["none_reported"].items()}


def _token_matches(token: str, pattern: str) -> bool:
    return token.startswith(pattern[:-1]) if pattern.endswith("*") else token == pattern


def _trigger_at(tokens: list[str], i: int, kind: str) -> int:
    """Length of the trigger of `kind` starting at token i (0: none)."""
    for phrase in _triggers()[kind]:
        if i + len(phrase) <= len(tokens) and all(
            _token_matches(tokens[i + k], part) for k, part in enumerate(phrase)
        ):
            return len(phrase)
    return 0


def parse_number(tokens: list[str], i: int, language: str = "") -> tuple[int, int] | None:
    """The number starting at token i and how many tokens it spans ("он жеті" = 17, 2)."""
    token = tokens[i]
    if token[0].isdigit():
        digits = re.sub(r"[,.\u00a0 ]", "", token)
        if not digits.isdigit():
            return None
        value, used = int(digits), 1
        if i + 1 < len(tokens) and tokens[i + 1] in _word_set("thousands"):
            value, used = value * 1000, 2
        return value, used
    words = _number_words(language)
    if token not in words:
        return None
    value, used = words[token], 1
    while i + used < len(tokens) and tokens[i + used] in words:
        nxt = words[tokens[i + used]]
        if nxt in (12, 1000) or (nxt == 100 and value < 10):
            value *= nxt
        elif (value >= 10 and nxt < 10 and value % 10 == 0) or (
            value >= 100 and nxt < 100 and value % 100 == 0
        ):
            value += nxt
        else:
            break
        used += 1
    return value, used


def _is_person(tokens: list[str], start: int) -> bool:
    """A person noun within `NOUN_WINDOW` tokens from `start`."""
    nouns = _word_set("person_nouns")
    window = tokens[start : start + NOUN_WINDOW]
    return any(t in nouns or t.startswith(_stems()) for t in window)


@cache
def _stems() -> tuple[str, ...]:
    return tuple(_tables()["person_stems"])


def sentence_counts(sentence: str, language: str = "") -> dict[str, list[Count]]:
    """Counts of each kind stated in one sentence (number words of `language`; all if empty).

    Each number goes to its nearest trigger within its clause ("погибли 14 человек,
    ранены 20": 14 killed, 20 injured).
    """
    tokens = _with_indefinite_ones([t.lower() for t in _TOKEN.findall(sentence)])
    spans = _number_spans(tokens, language)
    links: dict[int, tuple[int, str, int]] = {}  # number start -> (distance, kind, value)
    for kind in KINDS:
        t = 0
        while t < len(tokens):
            length = _trigger_at(tokens, t, kind)
            if length:
                toll = any(tokens[t : t + len(p)] == list(p) for p in _tolls())
                for start, distance, value in _near_trigger(tokens, spans, t, length, toll):
                    if start not in links or distance < links[start][0]:
                        links[start] = (distance, kind, value)
            t += max(length, 1)
    out: dict[str, list[Count]] = {kind: [] for kind in KINDS}
    for _, kind, value in links.values():
        out[kind].append(Count(value, value))
    out = _add_conjoined(tokens, spans, links, out)
    lowered = sentence.lower()
    for kind, phrases in _none_phrases().items():
        if any(p in lowered for p in phrases):
            out[kind].append(Count(0, 0))
    return out


def _with_indefinite_ones(tokens: list[str]) -> list[str]:
    """ "three officers and a civilian": the "a" after a conjunction, before a person, is one."""
    out = list(tokens)
    conjunctions = set(_tables()["conjunctions"])
    for i in range(1, len(out) - 1):
        if (
            out[i] in _tables()["articles"]
            and out[i - 1] in conjunctions
            and _is_person(out, i + 1)
        ):
            out[i] = "one"
    return out


def _add_conjoined(
    tokens: list[str],
    spans: list[tuple[int, int, int]],
    links: dict[int, tuple[int, str, int]],
    out: dict[str, list[Count]],
) -> dict[str, list[Count]]:
    """Counts joined by "and" add up: "three police officers and one civilian" is four."""
    conjunctions = set(_tables()["conjunctions"])
    by_start = {i: (used, value) for i, used, value in spans}
    for start, (_, kind, value) in sorted(links.items()):
        total, position = value, start + by_start[start][0]
        while True:
            nxt = next(
                (
                    k
                    for k in range(position, min(position + 4, len(tokens)))
                    if tokens[k] in conjunctions
                ),
                None,
            )
            if nxt is None or nxt + 1 not in by_start or not _is_person(tokens, nxt + 2):
                break
            if links.get(nxt + 1, (0, kind))[1] != kind:
                break
            total += by_start[nxt + 1][1]
            position = nxt + 1 + by_start[nxt + 1][0]
        if total != value:
            out[kind].append(Count(total, total))
    return out


def _number_spans(tokens: list[str], language: str) -> list[tuple[int, int, int]]:
    """``(start, tokens used, value)`` of every count-like number (not ages, not years)."""
    ages = _word_set("age_words")
    spans = []
    i = 0
    while i < len(tokens):
        parsed = parse_number(tokens, i, language) if tokens[i] not in _BARRIERS else None
        if parsed is None:
            i += 1
            continue
        value, used = parsed
        end = i + used
        is_age = end < len(tokens) and (tokens[end] in ages or tokens[end].startswith("year"))
        if 0 < value <= MAX_COUNT and not is_age and not 1900 <= value <= 2100:
            spans.append((i, used, value))
        i = end
    return spans


def _near_trigger(
    tokens: list[str], spans: list[tuple[int, int, int]], t: int, length: int, toll: bool
) -> list[tuple[int, int, int]]:
    """``(number start, distance, value)`` of the numbers this trigger counts."""
    found = []
    collective = _word_set("collective")
    for i, used, value in spans:
        end = i + used
        person = tokens[i] in collective or _is_person(tokens, end)
        if end <= t and t - end <= MAX_GAP and not _crosses(tokens, end, t):
            if person or t == end:
                found.append((i, t - end, value))
            continue
        gap = i - (t + length)
        if 0 <= gap <= 4 and not _crosses(tokens, t + length, i):
            clause_end = end >= len(tokens) or tokens[end] in _BARRIERS
            if (gap <= 2 and (person or (gap == 0 and clause_end))) or toll:
                found.append((i, gap, value))
    return found


def _crosses(tokens: list[str], start: int, stop: int) -> bool:
    """True when a clause boundary (comma, semicolon) lies between two token positions."""
    return any(tokens[k] in _BARRIERS for k in range(start, stop))


def _other_year(sentence: str, event_year: int | None) -> bool:
    if event_year is None:
        return False
    return any(int(y) != event_year for y in _YEAR.findall(sentence))


def article_counts(
    title: str,
    text: str,
    event_year: int | None,
    language: str = "",
    background: Callable[[str], bool] | None = None,
) -> dict[str, Count | None]:
    """The largest count of each kind an article states (None when it states none).

    Sentences naming another year, or that `background` flags (another place), are skipped.
    """
    best: dict[str, Count | None] = {kind: None for kind in KINDS}
    for sentence in [title, *_SENTENCE.split(text or "")]:
        if not sentence or _other_year(sentence, event_year):
            continue
        if background is not None and background(sentence):
            continue
        for kind, counts in sentence_counts(sentence, language).items():
            for count in counts:
                current = best[kind]
                if current is None or count.high > current.high:
                    best[kind] = count
    return best


def merge_counts(counts: list[Count | None]) -> dict[str, int] | None:
    """``{min, max}`` over the reports' counts (None when no report states one).

    Counts under a third of the largest are partial figures ("two police officers" of an
    attack that killed eleven), not estimates of the total, and do not lower the minimum.
    """
    known = [c for c in counts if c is not None]
    if not known:
        return None
    high = max(c.high for c in known)
    lows = [c.low for c in known if c.low * PARTIAL_SHARE >= high] or [high]
    return {"min": min(lows), "max": high}
