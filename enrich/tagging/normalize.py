"""Text normalisation shared by the taxonomy (aliases) and the tagger (article text).

Both sides go through the same two steps, so an alias matches its text whatever the case,
punctuation, hyphen, space or apostrophe variant ("Jund al-Khilafah" = "Jund al Khilafah",
"Prosecutor General's" = "Prosecutor General’s"):

1. ``fold``: lower-case (length-preserving, so offsets into the folded text are offsets into
   the original), ``ё`` → ``е``;
2. ``tokens``: ``\\w+`` runs. Everything else — hyphens, apostrophes, punctuation, spaces,
   newlines — is a token boundary.

The tagger joins the tokens with single spaces and runs one Aho-Corasick pass over that string.
"""

from __future__ import annotations

import logging
import re
import unicodedata

LOGGER = logging.getLogger(__name__)

WORD_RE = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower-case ``text`` without changing its length (offsets stay valid)."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    lowered = text.lower()
    if len(lowered) != len(text):
        # A few characters (e.g. "İ") lower-case to two; keep one so offsets still line up.
        lowered = "".join(ch.lower()[0] for ch in text)
    return lowered.replace("ё", "е")


def tokens(text: str) -> list[str]:
    """The normalised tokens of ``text``."""
    return WORD_RE.findall(fold(text))


def joined(text: str) -> str:
    """The normalised tokens of ``text`` joined by single spaces, with a space at each end."""
    return " " + " ".join(tokens(text)) + " "


def is_cyrillic(token: str) -> bool:
    """True when ``token`` contains a Cyrillic letter (Russian or Kazakh)."""
    return any("\u0400" <= ch <= "\u04ff" for ch in token)
