"""Case forms of place names for the gazetteer build (build time only; heavy imports inside).

- Russian: ``pymorphy3`` with its ``pymorphy3-dicts-ru`` dictionary. The parse of the name as a
  nominative singular (a ``Geox`` parse first, then a noun) gives its six case forms (plus the
  second locative, "в Крыму"); in a phrase, adjectives agree with the head noun ("Новый Узень" →
  "Нового Узеня"). Words pymorphy3 cannot read as a nominative singular are declined by the
  rule Russian grammar books give for foreign place names (``_ru_fallback``): vowel-final names
  other than -а/-я do not decline (Алматы, Кульсары, Актобе); consonant-final ones decline like
  "город", -й like "музей", -а like "страна", -я like "земля".
- Kazakh: ``qazaq-inflector`` (vowel harmony and the seven cases of proper names). The library
  has no derivational suffixes, so two are added by rule: the locative-attributive -ғы/-гі on the
  locative ("Ақтөбеде" → "Ақтөбедегі") and the "of/from X" adjective -лық/-лік, -дық/-дік,
  -тық/-тік ("Ақтөбелік", "Шымкенттік"), chosen by the last sound as in Kazakh grammars.
"""

from __future__ import annotations

import logging
from functools import cache

LOGGER = logging.getLogger(__name__)

RU_CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct", "loc2")
KK_CASES = ("genitive", "dative", "accusative", "locative", "ablative", "instrumental")
KK_LETTERS = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
_PROPER = frozenset({"Geox", "Name", "Surn", "Patr", "Orgn", "Trad"})
_HARD_VOWELS = frozenset("аоұыяюё")
_SOFT_VOWELS = frozenset("әөүіеэ")
_VOWELS = frozenset("аәеэоөұүыіяюёиу")


@cache
def _morph():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@cache
def _inflector():
    from qazaq_inflector import QazaqNameInflector

    return QazaqNameInflector()


# How Russian writes Kazakh names: each Kazakh-only letter by its nearest Russian letter
# (Ақтөбе → Актобе, Жаңаөзен → Жанаозен, Үшарал → Ушарал, Кеңқияқ → Кенкияк).
_RUSSIAN_RENDERING = str.maketrans("әғқңөұүһіӘҒҚҢӨҰҮҺІ", "агкноуухиАГКНОУУХИ")


def russian_rendering(name: str) -> str:
    """The Russian spelling of a Kazakh Cyrillic name (letters only; no other change)."""
    return name.translate(_RUSSIAN_RENDERING)


def is_kazakh(word: str) -> bool:
    """True when ``word`` has a letter only the Kazakh Cyrillic alphabet uses."""
    return not KK_LETTERS.isdisjoint(word)


def _nominative_parse(word: str):
    """The pymorphy3 parse of ``word`` as a nominative singular (Geox first), or None."""
    lower = word.lower().replace("ё", "е")
    found = [
        p
        for p in _morph().parse(lower)
        if p.tag.case == "nomn"
        and p.tag.number in ("sing", None)
        and p.normal_form.replace("ё", "е") == lower
        and p.tag.POS in ("NOUN", "ADJF")
    ]
    found.sort(key=lambda p: ("Geox" not in p.tag, p.tag.POS != "NOUN", -p.score))
    return found[0] if found else None


def _ru_fallback(word: str) -> list[str]:
    """Case forms of a word pymorphy3 cannot read as a nominative (see module docstring)."""
    w = word.lower()
    last = w[-1]
    if last == "а":
        stem = w[:-1]
        soft = stem[-1:] in set("гкхжшщч")
        return [w, stem + ("и" if soft else "ы"), stem + "е", stem + "у", stem + "ой"]
    if last == "я":
        stem = w[:-1]
        return [w, stem + "и", stem + "е", stem + "ю", stem + "ей"]
    if last == "й":
        stem = w[:-1]
        return [w, stem + "я", stem + "ю", stem + "ем", stem + "е"]
    if last in _VOWELS or last == "ь" or not last.isalpha():
        return [w]
    soft_ending = last in set("жшщчц")
    return [w, w + "а", w + "у", w + ("ем" if soft_ending else "ом"), w + "е"]


def russian_forms(name: str) -> list[str]:
    """Lower-cased case forms of a Russian place name (the name itself first)."""
    words = name.split()
    parses = [_nominative_parse(w) for w in words]
    heads = [i for i, p in enumerate(parses) if p is not None and p.tag.POS == "NOUN"]
    if not heads:
        heads = [len(words) - 1]
    head = heads[-1]
    forms: list[str] = [name.lower()]
    for case in RU_CASES:
        out = []
        for i, (word, parse) in enumerate(zip(words, parses, strict=True)):
            out.append(_inflect_word(word, parse, case, i, head, parses))
        if all(part is not None for part in out):
            forms.append(" ".join(out))  # type: ignore[arg-type]
    if parses[head] is None:
        head_forms = _ru_fallback(words[head])
        prefix = " ".join(w.lower() for w in words[:head])
        forms += [f"{prefix} {f}".strip() for f in head_forms]
    return list(dict.fromkeys(forms))


def _inflect_word(word, parse, case, index, head, parses) -> str | None:
    """One word of a phrase in ``case``: adjectives before the head agree with it."""
    if index > head:
        return word.lower()  # a complement after the head does not change ("Жибек Жолы")
    if parse is None:
        return word.lower() if index != head else None
    if "Fixd" in parse.tag:
        return parse.word
    grammemes = {case}
    if index < head and parse.tag.POS == "ADJF":
        noun = parses[head]
        if noun is None or noun.tag.POS != "NOUN":
            return word.lower()
        gender = noun.tag.gender
        grammemes |= {gender} if gender else set()
        if case == "accs" and noun.tag.animacy:
            grammemes.add(noun.tag.animacy)
    elif index < head:
        return word.lower()
    inflected = parse.inflect(grammemes) if case != "loc2" else parse.inflect({"loc2"})
    if inflected is None:
        return None if case != "loc2" else _inflect_word(word, parse, "loct", index, head, parses)
    return inflected.word


def kazakh_forms(name: str) -> list[str]:
    """Lower-cased Kazakh case forms of a place name (the last word takes the suffixes)."""
    inflector = _inflector()
    words = name.split()
    head, last = " ".join(words[:-1]), words[-1]
    forms = [last]
    forms += [inflector.inflect(last, case) for case in KK_CASES]
    locative = inflector.inflect(last, "locative")
    forms.append(locative + ("ғы" if locative[-1] == "а" else "гі"))
    forms.append(last + _kk_adjective_suffix(last))
    prefix = head + " " if head else ""
    return list(dict.fromkeys((prefix + f).lower() for f in forms))


def _kk_adjective_suffix(word: str) -> str:
    """-лық/-лік after vowels and й, у, р; -дық/-дік after л, м, н, ң, з, ж; -тық/-тік else."""
    lower = word.lower()
    hard = True
    for ch in reversed(lower):
        if ch in _HARD_VOWELS:
            break
        if ch in _SOFT_VOWELS:
            hard = False
            break
    last = lower[-1]
    if last in _VOWELS or last in "йр":
        stem = "л"
    elif last in "лмнңзж":
        stem = "д"
    else:
        stem = "т"
    return stem + ("ық" if hard else "ік")


# A word is common when its dictionary readings as a common (not proper) word carry at least
# this share of pymorphy3's parse score: "шар" 0.57 (ball), "степное" 1.0 (steppe, adj.), but
# "аксу" 0.08 (a rare dative of "акс"; otherwise the place Aksu).
COMMON_SCORE = 0.2


def is_common_russian_word(word: str) -> bool:
    """True when pymorphy3's dictionary knows ``word`` mostly as a common (not proper) word."""
    lower = word.lower().replace("ё", "е")
    share = 0.0
    for parse in _morph().parse(lower):
        method = type(parse.methods_stack[0][0]).__name__
        if method != "DictionaryAnalyzer":
            continue
        if _PROPER.isdisjoint(parse.tag.grammemes) and "Abbr" not in parse.tag:
            share += parse.score
    return share >= COMMON_SCORE


# pymorphy3's dictionary lists many Kazakh names: a word is a person's name when its
# dictionary readings as a name, surname or patronymic carry at least half of the parse score
# ("Аягоз" 1.0, a woman's name and a town; "Жаркент" 0.3 is mostly the town).
PERSON_SCORE = 0.5


def is_person_name(word: str) -> bool:
    """True when pymorphy3 reads ``word`` mostly as a first name, surname or patronymic."""
    lower = word.lower().replace("ё", "е")
    share = sum(
        p.score
        for p in _morph().parse(lower)
        if type(p.methods_stack[0][0]).__name__ == "DictionaryAnalyzer"
        and {"Name", "Surn", "Patr"} & set(p.tag.grammemes)
    )
    return share >= PERSON_SCORE


# Adjective endings of a Russian relative adjective in -ский (all genders, numbers and cases).
_RU_ADJECTIVE_ENDINGS = ("ий", "ого", "ому", "им", "ом", "ая", "ой", "ую", "ое", "ие", "их", "ими")


def russian_adjective_forms(name: str) -> list[str]:
    """The relative adjective of a one-word Russian place name in every form ("Кордай" →
    "кордайский", "кордайского", ...; "Жанаозен" → "жанаозенские"): how Russian texts name a
    district after its town ("Кордайский район") or people by their town ("жанаозенские
    нефтяники"). The textbook rule: consonant- or й-final names add -ск-, -а-final ones
    replace it with -инск-, -ск-final names are adjectives already; other vowel-final names
    (Актобе → актюбинский) are irregular and left to ``places.yaml``."""
    word = name.lower()
    if " " in word or "-" in word or len(word) < 4 or not word.isalpha():
        return []
    if word.endswith("ск"):
        stem = word
    elif word[-1] == "а":
        stem = word[:-1] + "инск"
    elif word[-1] == "ь":
        stem = word[:-1] + "ск"
    elif word[-1] not in _VOWELS or word[-1] == "й":
        stem = word + "ск"
    else:
        return []
    return [stem + ending for ending in _RU_ADJECTIVE_ENDINGS]


# Russian letters in Latin as English-language news writes Kazakh names (BGN/PCGN without
# diacritics: Кордай → Korday, Талгар → Talgar, Шиели → Shieli); й is also written "i" at a
# word end (Kordai, Aksai), both are kept.
_RU_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip


def latin_renderings(name: str) -> list[str]:
    """English-press spellings of a Russian (or Russian-rendered Kazakh) place name."""
    rendered = russian_rendering(name)
    out = []
    for final_y in ("y", "i"):
        letters = []
        for i, ch in enumerate(rendered):
            low = ch.lower()
            if low not in _RU_LATIN:
                letters.append(ch)
                continue
            at_end = i + 1 == len(rendered) or not rendered[i + 1].isalpha()
            latin = final_y if low == "й" and at_end else _RU_LATIN[low]
            letters.append(latin.capitalize() if ch.isupper() else latin)
        out.append("".join(letters))
    return list(dict.fromkeys(out))
