"""Language of an article: py3langid on the text, checked against what the page declares.

Kazakh and Russian share the Cyrillic alphabet; Kazakh adds ә ғ қ ң ө ұ ү һ і, which Russian
never uses. Their share among Cyrillic letters settles ru vs kk whatever the model says.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

LOGGER = logging.getLogger(__name__)

_KAZAKH_LETTERS = re.compile("[әғқңөұүһіӘҒҚҢӨҰҮҺІ]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
# Kazakh prose has ~4-6% of these letters among Cyrillic ones (measured on Azattyq pages);
# Russian has none, and a quoted Kazakh name in a Russian text stays far below 1%.
_KAZAKH_SHARE = 0.01
# At least this share of letters must be Cyrillic before the ru/kk check applies.
_CYRILLIC_SHARE = 0.5
# The model's answer overrides the page's declared language only when it is this sure and
# the declared language gets almost no probability.
_OVERRIDE_PROB = 0.95
_DECLARED_MIN_PROB = 0.05
# Languages the model may confuse with Russian or Kazakh; the letter check settles them.
_CYRILLIC_LANGS = frozenset({"ru", "kk", "uk", "bg", "mk", "ky", "be", "mn", "tt", "ba"})
# py3langid's cost grows with the text (a Python loop per byte); 1,000 characters (~150
# words) tell en/ru/kk apart reliably and keep detection at ~1 ms per page.
_SAMPLE_CHARS = 1000


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def cyrillic_language(text: str) -> str | None:
    """``kk`` or ``ru`` when the text is mostly Cyrillic (by the Kazakh letters), else None."""
    letters = sum(1 for ch in text if ch.isalpha())
    cyrillic = len(_CYRILLIC.findall(text))
    if not letters or cyrillic / letters < _CYRILLIC_SHARE:
        return None
    return "kk" if len(_KAZAKH_LETTERS.findall(text)) / cyrillic >= _KAZAKH_SHARE else "ru"


def detect_language(text: str, declared: list[str] | None = None) -> str | None:
    """ISO 639-1 code of ``text``, checked against the page's declared languages.

    The declared language wins unless the model is very sure of another one; for Cyrillic
    text the Kazakh letters decide between ``kk`` and ``ru``.
    """
    sample = text[:_SAMPLE_CHARS]
    if not sample.strip():
        return declared[0] if declared else None
    ranked = _identifier().rank(sample)
    best, prob = ranked[0]
    result = best
    if declared and declared[0] != best:
        declared_prob = dict(ranked).get(declared[0], 0.0)
        if prob < _OVERRIDE_PROB or declared_prob >= _DECLARED_MIN_PROB:
            result = declared[0]
        else:
            LOGGER.info("page declares %s but the text reads as %s (%.2f)", declared[0], best, prob)
    if result in {"ru", "kk", "uk", "bg", "mk", "ky", "be", "mn", "tt", "ba"} or best in {
        "ru",
        "kk",
    }:
        result = cyrillic_language(sample) or result
    return result
