r"""Text normalisation shared by the taxonomy (aliases) and the tagger (article text).

Both sides go through ``normalise``, so an alias matches its text whatever the case,
punctuation, hyphen or apostrophe variant ("Jund al-Khilafah" = "Jund al Khilafah",
"Prosecutor General's" = "Prosecutor General’s"):

- lower-case, ``ё`` → ``е``;
- every punctuation, symbol or whitespace character (ASCII, Latin-1, General Punctuation,
  « », modifier apostrophes) becomes a plain space.

``normalise`` keeps the text's length, so a position in it is a position in the original, and
the tagger runs its one Aho-Corasick pass over it directly: every token is preceded and
followed by a space. Runs of spaces are not collapsed (that would cost a second pass and an
offset map); a multi-word alias therefore matches where its words are separated as in the
alias ("Jund al-Khilafah", "St. Petersburg"), which is how names are written. All of this runs
in C (``str.lower``, one regex, ``bytes.translate``) and costs less than a
``re.findall(r"\w+")`` tokenising pass.
"""

from __future__ import annotations

import logging
import re
import unicodedata

LOGGER = logging.getLogger(__name__)

# ASCII bytes that are not letters or digits become spaces (UTF-8 multi-byte sequences never
# contain ASCII bytes, so this is safe on encoded text of any script).
_ASCII_TABLE = bytes(b if chr(b).isalnum() or b >= 0x80 else 0x20 for b in range(256))


# Invisible format characters (zero-width, joiners, BOM, soft hyphen, bidi controls): dropped
# before matching (``confusables.drop_invisible``), so ``normalise`` leaves them as they are
# and ``has_invisible`` finds them in its output.
INVISIBLE = (
    "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
# After ``normalise`` every other character of U+2000-U+206F has become a space, so these
# UTF-8 byte sequences can only be invisible characters (or a rare superscript, U+2070-207F,
# which costs a second look and nothing else).
_INVISIBLE_BYTES = (b"\xe2\x80", b"\xe2\x81", b"\xc2\xad", b"\xef\xbb\xbf", b"\xe1\xa0\x8e")


def _non_ascii_punctuation() -> str:
    ranges = [(0x00A0, 0x00BF), (0x02B9, 0x02BF), (0x2000, 0x206F), (0x3000, 0x303F)]
    chars = [
        chr(code)
        for low, high in ranges
        for code in range(low, high + 1)
        if (unicodedata.category(chr(code))[0] in "PSZC" or chr(code) in "ʹʺʻʼʽʾʿ")
        and chr(code) not in INVISIBLE
    ]
    return "".join(chars)


_PUNCT_RE = re.compile("[" + re.escape(_non_ascii_punctuation()) + "]")


def normalise(text: str) -> str:
    """Lower-cased ``text`` with punctuation turned into spaces; same length as ``text``."""
    return normalise_encoded(text)[0]


def normalise_encoded(text: str) -> tuple[str, bytes]:
    """``normalise(text)`` and its UTF-8 bytes (what ``has_invisible`` and the mixed-script
    test read, without encoding the text again)."""
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    lowered = text.lower()
    if len(lowered) != len(text):
        # A few characters (e.g. "İ") lower-case to two; keep one so positions still line up.
        lowered = "".join(ch.lower()[0] for ch in text)
    if not lowered.isascii():
        lowered = _PUNCT_RE.sub(" ", lowered.replace("ё", "е"))
    encoded = lowered.encode("utf-8").translate(_ASCII_TABLE)
    return encoded.decode("utf-8"), encoded


def has_invisible(encoded: bytes) -> bool:
    """Can the UTF-8 bytes of a ``normalise`` output hold an invisible character?

    Their lead bytes first: a one-byte search is a ``memchr`` (a tenth of the cost of a two-
    or three-byte one), and most texts hold none of the four at all."""
    if not (b"\xe2" in encoded or b"\xc2" in encoded or b"\xef" in encoded or b"\xe1" in encoded):
        return False
    return any(sequence in encoded for sequence in _INVISIBLE_BYTES)


def tokens(text: str) -> list[str]:
    """The normalised tokens of ``text``."""
    return normalise(text).split()


def padded(text: str) -> str:
    """``normalise(text)`` with a space at each end: the string the automaton scans."""
    return " " + normalise(text) + " "


def is_cyrillic(token: str) -> bool:
    """True when ``token`` contains a Cyrillic letter (Russian or Kazakh)."""
    return any("\u0400" <= ch <= "\u04ff" for ch in token)
