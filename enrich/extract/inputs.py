"""Checks on a page before it is parsed: size, emptiness, binary content, HTML or not.

Each check returns a short reason (``"page too large: ..."``) or None; the reason goes into the
record's ``error`` field. Size is checked first, before anything touches the whole page.
"""

from __future__ import annotations

import logging
import re

LOGGER = logging.getLogger(__name__)

# How much of the start of a page the binary/HTML sniffing looks at.
_SNIFF_CHARS = 4096
# Share of control characters (other than tab/newline/CR/FF) above which a page is binary.
# Real HTML has none; 1% tolerates a stray byte or two in a legacy page.
_MAX_CONTROL_SHARE = 0.01
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_TAG_RE = re.compile(r"<\s*(!doctype\s+html|html|head|body|meta|title|div|p|article|main)\b", re.I)
# Signatures of common binary formats that arrive as "pages" (PDF, images, archives).
_BINARY_MAGIC = ("%PDF-", "\x89PNG", "GIF8", "\xff\xd8\xff", "PK\x03\x04", "\x1f\x8b")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def page_size_bytes(html: str, limit: int) -> int:
    """The UTF-8 size of ``html``, computed cheaply when it is clearly under or over ``limit``."""
    if len(html) > limit:  # every character takes at least one byte
        return len(html)
    if len(html) * 4 <= limit:  # at most four bytes per character
        return len(html)
    return len(html.encode("utf-8", "surrogatepass"))


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
    return _check_head(html[:_SNIFF_CHARS])


def _check_head(head: str) -> str | None:
    # Lone surrogates later in the page make lxml raise UnicodeError (handled by the caller).
    if _SURROGATE_RE.search(head):
        return "undecodable bytes in page"
    if head.lstrip().startswith(_BINARY_MAGIC):
        return "binary content, not HTML"
    controls = len(_CONTROL_RE.findall(head))
    if controls > max(2, _MAX_CONTROL_SHARE * len(head)):
        if "\ufffd" in head and head.count("\ufffd") >= controls / 2:
            return "undecodable bytes in page"
        return "binary content, not HTML"
    if not _TAG_RE.search(head):
        return "not HTML"
    return None
