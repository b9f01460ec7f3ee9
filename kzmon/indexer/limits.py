"""Bounds on the text we store and highlight, so that one huge article cannot break a search.

Elasticsearch refuses to highlight a field longer than ``index.highlight.max_analyzed_offset``
(1,000,000 characters, set in ``index_mappings/articles-settings.json``): every search that
highlights such a document fails, and an alert watchlist that matches it fails on every run.
Two defences, each enough on its own:

- **stored text is bounded** (`bound_text`, applied by `documents.to_document`): ``text`` is cut
  at a paragraph or word boundary below `max_text_chars()` and the document says so with
  ``text_truncated: true``; titles and subtitles have bounds of their own;
- **every highlight request carries** ``max_analyzed_offset`` (`highlight_max_analyzed_offset`):
  Elasticsearch then highlights the first part of a longer field instead of failing (documents
  written before the bound, or by another writer, stay searchable).

Lengths are counted in UTF-16 code units, as Elasticsearch (Java) counts them: a character
outside the Basic Multilingual Plane (an emoji) counts twice.
"""

from __future__ import annotations

import logging
import os
from functools import cache

from kzmon.indexer.mappings import article_settings

LOGGER = logging.getLogger(__name__)

MAX_TEXT_CHARS_ENV = "KZMON_MAX_TEXT_CHARS"
#: Default bound on stored article text. The longest of the 181 real articles of the
#: extraction benchmark has 53,372 characters (median 3,158): 500,000 is ~10x that, and half
#: the highlight limit, so a stored text is always highlighted in full.
DEFAULT_MAX_TEXT_CHARS = 500_000
#: Bounds on the one-line fields (real titles are < 300 characters, leads < 2,000).
MAX_TITLE_CHARS = 2_000
MAX_SUBTITLE_CHARS = 10_000
#: How far back from the bound a paragraph or word break is looked for.
_BREAK_WINDOW = 2_000


@cache
def highlight_max_analyzed_offset() -> int:
    """The ``max_analyzed_offset`` every highlight request sends: the index's own limit.

    A request value above the index setting is rejected by Elasticsearch, so the two come
    from the same file.
    """
    return int(article_settings()["highlight"]["max_analyzed_offset"])


def max_text_chars() -> int:
    """``KZMON_MAX_TEXT_CHARS`` (default 500,000), never above the highlight limit."""
    limit = highlight_max_analyzed_offset()
    raw = os.environ.get(MAX_TEXT_CHARS_ENV, "").strip()
    try:
        value = int(raw) if raw else DEFAULT_MAX_TEXT_CHARS
    except ValueError:
        LOGGER.warning(
            "%s=%r is not an integer; using %d", MAX_TEXT_CHARS_ENV, raw, DEFAULT_MAX_TEXT_CHARS
        )
        value = DEFAULT_MAX_TEXT_CHARS
    if value <= 0:
        value = DEFAULT_MAX_TEXT_CHARS
    return min(value, limit)


def utf16_length(text: str) -> int:
    """The length Elasticsearch sees: UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def bound_text(text: str, limit: int) -> tuple[str, bool]:
    """``(text, False)`` when it fits in ``limit`` UTF-16 units, else a cut copy and True.

    The cut is at the last paragraph break (or else whitespace) in the final 2,000
    characters before the bound, so no word or surrogate pair is split.
    """
    if len(text) * 2 <= limit:  # fits whatever the characters (at most 2 units each)
        return text, False
    if len(text) <= limit and utf16_length(text) <= limit:
        return text, False
    head = text[:limit]
    if utf16_length(head) > limit:  # astral characters: cut at exactly `limit` units
        units = head.encode("utf-16-le", "surrogatepass")[: 2 * limit]
        head = units.decode("utf-16-le", "ignore")  # drops half a surrogate pair
    floor = max(0, len(head) - _BREAK_WINDOW)
    cut = head.rfind("\n\n", floor)
    if cut <= 0:
        cut = max(head.rfind(" ", floor), head.rfind("\n", floor))
    if cut > 0:
        head = head[:cut]
    return head.rstrip(), True
