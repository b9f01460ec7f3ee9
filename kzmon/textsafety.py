"""Invisible characters that spoof what a reader sees: bidi controls and zero-width characters.

An article title such as ``"Report\u202eFDP.exe"`` displays as ``ReportEXE.PDF``; a zero-width
space inside ``Aty\u200brau`` hides the word from search and from the reader's eye; a mail
subject or an attachment name can be made to read backwards. The characters below carry no
visible text of their own in the languages kzmon reads (English, Russian, Kazakh), so they are
removed from every string we extract (titles, authors, text) and from everything we render
(mail subjects, bodies, attachment names). Links keep working: in a URL they are
percent-encoded instead (`neutralise_url`), which shows them rather than obeying them.

The set (`INVISIBLE`): the bidi embeddings, overrides and isolates (U+202A–U+202E,
U+2066–U+2069) and marks (U+200E, U+200F, U+061C); zero-width space, joiners and non-joiner
(U+200B–U+200D); word joiner and the invisible operators (U+2060–U+2064); the deprecated
format controls U+206A–U+206F; the byte-order mark / zero-width no-break space (U+FEFF);
the Mongolian vowel separator (U+180E); the interlinear annotation controls (U+FFF9–U+FFFB);
and the tag characters (U+E0000–U+E007F), which can smuggle invisible ASCII.
"""

from __future__ import annotations

import logging
import re
from email.message import EmailMessage, Message
from urllib.parse import quote

LOGGER = logging.getLogger(__name__)

#: Every character this module removes (a regex character class).
INVISIBLE_CLASS = (
    "\u061c\u180e"
    "\u200b-\u200f"
    "\u202a-\u202e"
    "\u2060-\u2064"
    "\u2066-\u206f"
    "\ufeff"
    "\ufff9-\ufffb"
    "\U000e0000-\U000e007f"
)
INVISIBLE = re.compile(f"[{INVISIBLE_CLASS}]")
#: Characters never allowed in an attachment name: path separators, controls, quotes.
_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]')
_SPACE = re.compile(r"\s+")
_MAX_FILENAME_CHARS = 120


def strip_invisible(text: str) -> str:
    """``text`` without bidi controls and zero-width characters (see `INVISIBLE`)."""
    if text.isascii():
        return text
    return INVISIBLE.sub("", text)


def has_invisible(text: str) -> bool:
    """True when ``text`` holds any character `strip_invisible` removes."""
    return not text.isascii() and INVISIBLE.search(text) is not None


def neutralise_url(url: str) -> str:
    """A URL with its invisible characters percent-encoded (the link still resolves)."""
    if not has_invisible(url):
        return url
    return INVISIBLE.sub(lambda m: quote(m.group(), safe=""), url)


def safe_filename(name: str, default: str = "attachment") -> str:
    """An attachment name that displays as what it is: no invisible characters, no path
    separators or control characters, no leading dots, at most 120 characters (the extension
    kept)."""
    cleaned = _UNSAFE_FILENAME.sub("_", strip_invisible(name or ""))
    cleaned = _SPACE.sub(" ", cleaned).strip().lstrip(".").strip()
    if len(cleaned) > _MAX_FILENAME_CHARS:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            cleaned = stem[: _MAX_FILENAME_CHARS - len(ext) - 1] + "." + ext
        else:
            cleaned = cleaned[:_MAX_FILENAME_CHARS]
    return cleaned or default


def neutralise_message(message: EmailMessage) -> EmailMessage:
    """Strip invisible characters from a message's headers and attachment names, in place.

    A last line of defence before a mail leaves: the renderer already cleans what it puts in
    the body; this covers headers (Subject, display names) and file names of any part.
    """
    for name, value in list(message.items()):
        text = str(value)
        if has_invisible(text):
            message.replace_header(name, strip_invisible(text))
            LOGGER.warning("removed invisible characters from the %s header", name)
    for part in message.walk():
        _neutralise_filename(part)
    return message


def _neutralise_filename(part: Message) -> None:
    filename = part.get_filename()
    if filename is None:
        return
    safe = safe_filename(filename)
    if safe != filename:
        part.set_param("filename", safe, header="Content-Disposition")
        if part.get_param("name", header="Content-Type") is not None:
            part.set_param("name", safe, header="Content-Type")
        LOGGER.warning("attachment name %r rendered as %r", filename, safe)
