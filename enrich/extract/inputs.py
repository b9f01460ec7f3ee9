"""Checks on a page before it is parsed: size, emptiness, binary content, HTML or not.

Each check returns a short reason (``"page too large: ..."``) or None; the reason goes into the
record's ``error`` field. Size is checked first, before anything touches the whole page.
"""

from __future__ import annotations

import logging
import re

LOGGER = logging.getLogger(__name__)

# How much of the start of a page the binary sniffing looks at, and how far to look for a
# first HTML tag (long comments or inline scripts can come before <html>).
_SNIFF_CHARS = 4096
_TAG_SEARCH_CHARS = 64 * 1024
# Share of control characters (other than tab/newline/CR/FF) above which a page is binary.
# Real HTML has none; 1% tolerates a stray byte or two in a legacy page.
_MAX_CONTROL_SHARE = 0.01
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_TAG_RE = re.compile(r"<\s*(!doctype\s+html|html|head|body|meta|title|div|p|article|main)\b", re.I)
# Signatures of common binary formats that arrive as "pages" (PDF, images, archives).
_BINARY_MAGIC = ("%PDF-", "\x89PNG", "GIF8", "\xff\xd8\xff", "PK\x03\x04", "\x1f\x8b")


def page_size_bytes(html: str, limit: int) -> int:
    """The UTF-8 size of ``html`` (a lower bound when it is clearly over ``limit``)."""
    if len(html) > limit:  # every character takes at least one byte: too large already
        return len(html)
    return len(html.encode("utf-8", "surrogatepass"))


def _has_lone_surrogates(html: str) -> bool:
    """True when the text holds lone surrogates (bytes that were not valid UTF-8 upstream).

    Encoding runs at C speed (~1 ms per MB), far cheaper than a regex scan.
    """
    if html.isascii():
        return False
    try:
        html.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_html(html: object, max_bytes: int) -> str | None:
    """The reason this value is not a page we can extract from, or None when it looks fine."""
    if html is None:
        return "missing html"
    if isinstance(html, bytes | bytearray):
        return "html must be decoded text, got bytes"
    if not isinstance(html, str):
        return f"html must be a string, got {type(html).__name__}"
    size = page_size_bytes(html, max_bytes)
    if size > max_bytes:
        return f"page too large: {size} bytes > {max_bytes}"
    if not html.strip():
        return "empty page"
    if _has_lone_surrogates(html):
        return "undecodable bytes in page"
    reason = _check_head(html[:_SNIFF_CHARS])
    if reason is None and not _TAG_RE.search(html, 0, _TAG_SEARCH_CHARS):
        return "not HTML"
    return reason


def _check_head(head: str) -> str | None:
    if head.lstrip().startswith(_BINARY_MAGIC):
        return "binary content, not HTML"
    controls = len(_CONTROL_RE.findall(head))
    if controls > max(2, _MAX_CONTROL_SHARE * len(head)):
        if "\ufffd" in head and head.count("\ufffd") >= controls / 2:
            return "undecodable bytes in page"
        return "binary content, not HTML"
    return None
