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

Also read: lists that add up ("13 attackers, three soldiers and three civilians were
killed" = 19), a death toll stated far from its number ("число погибших в результате
беспорядков ... выросло до 10 человек"), Kazakh number words with case and collective
endings ("жетіге жетті", "бесеуі"), one death without a number ("the attacker was shot
dead", "нападавший ликвидирован", "шабуылдаушының көзі жойылды" = 1), and vague
quantities ("dozens", "десятки", "ондаған" = 20–99) that count only when no report of the
story gives a number. Day numbers of dates ("on August 26 killed") and capitalised number
words inside a sentence (the skater Denis Ten) are not counts.
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
#: Tokens before a death trigger searched for one person without a number ("қарулы
#: адамның көзі арнайы операция кезінде жойылды").
SINGULAR_WINDOW = 6
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


_PhraseIndex = tuple[dict[str, list[tuple[str, ...]]], list[tuple[str, ...]]]


def _index(phrases: list[tuple[str, ...]]) -> _PhraseIndex:
    """Phrases by their exact first token, and those whose first token is a prefix."""
    exact: dict[str, list[tuple[str, ...]]] = {}
    prefixed: list[tuple[str, ...]] = []
    for phrase in phrases:
        if phrase[0].endswith("*"):
            prefixed.append(phrase)
        else:
            exact.setdefault(phrase[0], []).append(phrase)
    return exact, prefixed


@cache
def _by_first(kind: str) -> _PhraseIndex:
    return _index(_triggers()[kind])


def _trigger_at(tokens: list[str], i: int, kind: str) -> int:
    """Length of the trigger of `kind` starting at token i (0: none), longest first."""
    return _longest_at(tokens, i, _by_first(kind))


def _longest_at(tokens: list[str], i: int, index: _PhraseIndex) -> int:
    exact, prefixed = index
    token = tokens[i]
    candidates = exact.get(token, []) + [p for p in prefixed if token.startswith(p[0][:-1])]
    best = 0
    for phrase in candidates:
        if (
            len(phrase) > best
            and i + len(phrase) <= len(tokens)
            and all(_token_matches(tokens[i + k], part) for k, part in enumerate(phrase))
        ):
            best = len(phrase)
    return best


@cache
def _kk_endings() -> tuple[str, ...]:
    return tuple(sorted(_tables()["kk_number_endings"], key=len, reverse=True))


def _word_value(token: str, words: dict[str, int], language: str) -> int | None:
    """A number word's value; Kazakh words may carry case or collective endings (жетіге,
    бесеуі, үшеуге)."""
    value = words.get(token)
    if value is not None or language not in ("", "kk") or token in _word_set_flat("kk_not_numbers"):
        return value
    for ending in _kk_endings():
        if token.endswith(ending) and len(token) > len(ending) + 1:
            value = words.get(token[: -len(ending)])
            if value is not None:
                return value
    return None


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
    first = _word_value(token, words, language)
    if first is None:
        return None
    value, used = first, 1
    while i + used < len(tokens):
        nxt_value = _word_value(tokens[i + used], words, language)
        if nxt_value is None:
            break
        nxt = nxt_value
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
    ранены 20": 14 killed, 20 injured). Vague quantities come back as ranges
    (``Count(20, 99)`` for "dozens").
    """
    raw = _TOKEN.findall(mask_dates(sentence))
    tokens = _with_indefinite_ones([t.lower() for t in raw])
    headline = _headline_case(raw)
    spans = [s for s in _number_spans(tokens, language) if headline or not _is_name(raw, s[0])]
    links: dict[int, tuple[int, str, int]] = {}  # number start -> (distance, kind, value)
    for kind in KINDS:
        t = 0
        while t < len(tokens):
            length = _trigger_at(tokens, t, kind)
            if length:
                toll = any(tokens[t : t + len(p)] == list(p) for p in _tolls())
                found = _near_trigger(tokens, spans, t, length, toll)
                if toll and not found:
                    found = _toll_anchor(tokens, spans, t + length)
                for start, distance, value in found:
                    if start not in links or distance < links[start][0]:
                        links[start] = (distance, kind, value)
            t += max(length, 1)
    out: dict[str, list[Count]] = {kind: [] for kind in KINDS}
    for _, kind, value in links.values():
        out[kind].append(Count(value, value))
    out = _add_conjoined(tokens, spans, links, out)
    if out["fatalities"] and _attacker_also(sentence):
        top = max(c.high for c in out["fatalities"])
        out["fatalities"].append(Count(top + 1, top + 1))
    for kind, count in _vague(tokens).items():
        if not out[kind]:
            out[kind].append(count)
    if not out["fatalities"] and _singular_death(tokens):
        out["fatalities"].append(Count(1, 1))
    lowered = sentence.lower()
    for kind, phrases in _none_phrases().items():
        if any(p in lowered for p in phrases):
            out[kind].append(Count(0, 0))
    return out


def mask_dates(sentence: str) -> str:
    """The sentence with its dates blanked out (a day number is not a count: "a fire on
    August 26 killed nine")."""
    from kzmon.stories.dates import date_spans

    spans = date_spans(sentence)
    if not spans:
        return sentence
    chars = list(sentence)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


#: A sentence with at least this share of capitalised words is a headline ("Gunman Kills
#: Seven"): its capitals say nothing about names.
HEADLINE_SHARE = 0.6


def _headline_case(raw: list[str]) -> bool:
    words = [t for t in raw if t[:1].isalpha()]
    return len(words) >= 3 and sum(1 for t in words if t[0].isupper()) >= HEADLINE_SHARE * len(
        words
    )


def _is_name(raw: list[str], i: int) -> bool:
    """A capitalised number word inside a sentence is a name (the skater Denis Ten)."""
    token = raw[i]
    return i > 0 and token[:1].isupper() and not token[:1].isdigit() and raw[i - 1][:1].isupper()


def _toll_anchor(
    tokens: list[str], spans: list[tuple[int, int, int]], after: int
) -> list[tuple[int, int, int]]:
    """The number a death toll reaches later in its clause ("число погибших в результате
    беспорядков выросло до 10": 10)."""
    anchors = _word_set_flat("toll_anchors")
    for i, _, value in spans:
        if i <= after or _crosses(tokens, after, i):
            continue
        if tokens[i - 1] in anchors:
            return [(i, i - after, value)]
    return []


def _singular_death(tokens: list[str]) -> bool:
    """One person named beside a death trigger, with no number ("the attacker was shot dead",
    "захватчик ликвидирован", "шабуылдаушының көзі жойылды")."""
    persons = _singular_persons()
    for t in range(len(tokens)):
        length = _phrase_at(tokens, t, _singular_triggers())
        if not length:
            continue
        before = tokens[max(0, t - SINGULAR_WINDOW) : t]
        after = tokens[t + length : t + length + 3]
        near = [w for w in before + after if w not in _BARRIERS]
        if any(_person_phrase(near, k, persons) for k in range(len(near))):
            return True
    return False


def _person_phrase(words: list[str], k: int, persons: frozenset[tuple[str, ...]]) -> bool:
    return any(tuple(words[k : k + len(p)]) == p for p in persons)


@cache
def _singular_persons() -> frozenset[tuple[str, ...]]:
    return frozenset(
        tuple(w.split()) for words in _tables()["singular_persons"].values() for w in words
    )


@cache
def _singular_triggers() -> _PhraseIndex:
    return _index([tuple(p.split()) for p in _tables()["singular_death_triggers"]])


def _phrase_at(tokens: list[str], i: int, index: _PhraseIndex) -> int:
    return _longest_at(tokens, i, index)


@cache
def _vague_words() -> dict[str, tuple[int, int]]:
    out = {}
    for spec in _tables()["vague"].values():
        for word in spec["words"]:
            out[word] = (int(spec["range"][0]), int(spec["range"][1]))
    return out


def _vague(tokens: list[str]) -> dict[str, Count]:
    """Vague quantities next to a trigger ("dozens injured", "десятки получили ранения"): the
    nearest trigger in the clause decides the kind."""
    words = _vague_words()
    out: dict[str, Count] = {}
    for i, token in enumerate(tokens):
        if token not in words:
            continue
        best: tuple[int, str] | None = None
        for j in range(max(0, i - 3), min(len(tokens), i + 5)):
            if j == i or _crosses(tokens, min(i, j), max(i, j)):
                continue
            for kind in KINDS:
                if _trigger_at(tokens, j, kind):
                    distance = abs(j - i) + (1 if j < i else 0)  # "dozens injured" first
                    if best is None or distance < best[0]:
                        best = (distance, kind)
        if best is not None and best[1] not in out:
            out[best[1]] = Count(*words[token])
    return out


@cache
def _word_set_flat(section: str) -> frozenset[str]:
    return frozenset(_tables()[section])


def _with_indefinite_ones(tokens: list[str]) -> list[str]:
    """ "three officers and a civilian", "killing a police officer": the "a" after a
    conjunction or a verb of harm, before a person, is one."""
    out = list(tokens)
    conjunctions = set(_tables()["conjunctions"]) | set(_tables()["indefinite_after"])
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
    """Counts listed together add up: "three police officers and one civilian" is four, and
    so is a list ending with "and": "13 attackers, three soldiers and three civilians" (19)."""
    for members, total in _lists(tokens, spans):
        kinds = {links[i][1] for i in members if i in links}
        if len(kinds) == 1:
            out[kinds.pop()].append(Count(total, total))
    return out


def _lists(tokens: list[str], spans: list[tuple[int, int, int]]) -> list[tuple[list[int], int]]:
    """Runs of "N persons" joined by commas and a final conjunction: (starts, total)."""
    conjunctions = set(_tables()["conjunctions"])
    by_start = {i: (used, value) for i, used, value in spans}
    out = []
    for start, _, value in spans:
        if not _is_person(tokens, start + by_start[start][0]):
            continue
        members, total, position, joined = [start], value, start + by_start[start][0], False
        while True:
            nxt = next(
                (
                    k
                    for k in range(position, min(position + 4, len(tokens)))
                    if tokens[k] in conjunctions or tokens[k] == ","
                ),
                None,
            )
            if nxt is None or nxt + 1 not in by_start or not _is_person(tokens, nxt + 2):
                break
            joined = joined or tokens[nxt] in conjunctions
            members.append(nxt + 1)
            total += by_start[nxt + 1][1]
            position = nxt + 1 + by_start[nxt + 1][0]
            if tokens[nxt] in conjunctions:
                break
        if joined and len(members) > 1:
            out.append((members, total))
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
        if 0 <= gap <= 4 and not _crosses(tokens, t + length, i) and not _joins(tokens, t, i):
            clause_end = end >= len(tokens) or tokens[end] in _BARRIERS
            if (gap <= 2 and (person or (gap == 0 and clause_end))) or toll:
                found.append((i, gap, value))
    return found


def _joins(tokens: list[str], start: int, stop: int) -> bool:
    """True when a conjunction lies between a trigger and a number after it: "three were
    killed and four guards injured" counts the four with "injured", not with "killed"."""
    conjunctions = set(_tables()["conjunctions"])
    return any(tokens[k] in conjunctions for k in range(start, stop))


def _attacker_also(sentence: str) -> bool:
    """The attacker died too, beside the victims counted ("killing two officers before he
    was shot dead", "погибли один полицейский и сам стрелок", "атқыштың өзі қаза тапты")."""
    lowered = sentence.lower()
    return any(p in lowered for ps in _tables()["attacker_also"].values() for p in ps)


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

    A number beats a vague quantity ("eight killed and dozens injured ... 192 injured").
    Sentences naming another year, or that `background` flags (another place or date), are
    skipped.
    """
    best: dict[str, Count | None] = {kind: None for kind in KINDS}
    for sentence in [title, *_SENTENCE.split(text or "")]:
        if not sentence or _other_year(sentence, event_year):
            continue
        found = sentence_counts(sentence, language)
        if not any(found.values()) or (background is not None and background(sentence)):
            continue
        for kind, counts in found.items():
            for count in counts:
                if _better(count, best[kind]):
                    best[kind] = count
    return best


def is_exact(count: Count) -> bool:
    """True for a number ("17"), False for a vague quantity ("dozens")."""
    return count.low == count.high


def _better(count: Count, current: Count | None) -> bool:
    if current is None:
        return True
    if is_exact(count) != is_exact(current):
        return is_exact(count)
    return count.high > current.high


def merge_counts(counts: list[Count | None]) -> dict[str, int] | None:
    """``{min, max}`` over the reports' counts (None when no report states one).

    Counts under a third of the largest are partial figures ("two police officers" of an
    attack that killed eleven), not estimates of the total, and do not lower the minimum.
    Vague quantities count only when no report gives a number.
    """
    known = [c for c in counts if c is not None]
    if not known:
        return None
    exact = [c for c in known if is_exact(c)]
    if not exact:
        return {"min": min(c.low for c in known), "max": max(c.high for c in known)}
    high = max(c.high for c in exact)
    lows = [c.low for c in exact if c.low * PARTIAL_SHARE >= high] or [high]
    return {"min": min(lows), "max": high}


def small_number(word: str) -> int | None:
    """The value of a number word of any of the three languages (None when it is not one)."""
    for language in ("en", "ru", "kk"):
        value = _number_words(language).get(word)
        if value is not None:
            return value
    return None
