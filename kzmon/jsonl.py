"""Reading JSON-lines files whose lines may be damaged.

Crawl batches, article files and dead letters are JSON lines; a truncated write, a hand edit
or bytes from a page in another encoding can leave a line that is not JSON, not UTF-8, or
not valid Unicode. `iter_jsonl` yields every non-blank line with its number and either the
parsed value or the reason it could not be read, and each caller decides what a bad line
means for it (skip and count, record, or keep aside). One bad line never stops the others:
the file is read as bytes and each line is decoded on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_BOM = b"\xef\xbb\xbf"
#: A ``\\uD800``-``\\uDFFF`` escape: the only way valid UTF-8 JSON can carry a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


@dataclass(frozen=True)
class JsonLine:
    """One non-blank line: its 1-based number, its text, and the value or the error.

    ``text`` is the line as read; bytes that are not UTF-8 appear as ``\\xNN`` escapes.
    """

    number: int
    text: str
    value: Any = None
    error: str | None = None


def iter_jsonl(path: Path) -> Iterator[JsonLine]:
    """Every non-blank line of ``path``, parsed; a line that cannot be read carries ``error``.

    A line is bad when it is not UTF-8, not JSON, or holds a lone surrogate escape (text
    that cannot be written back as UTF-8). A UTF-8 byte-order mark on the first line is
    ignored.
    """
    with Path(path).open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if not raw.strip():
                continue
            yield parse_line(number, raw)


def parse_line(number: int, raw: bytes) -> JsonLine:
    """One line of bytes as a `JsonLine` (never raises)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = raw.decode("utf-8", "backslashreplace")
        return JsonLine(number, shown, error=f"not UTF-8: {exc.reason} at byte {exc.start}")
    try:
        value = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and RecursionError-free ValueErrors
        return JsonLine(number, text, error=f"not JSON: {exc}")
    except RecursionError:
        return JsonLine(number, text, error="not JSON: nested too deeply")
    if _SURROGATE_ESCAPE.search(text) and not _encodable(value):
        return JsonLine(number, text, error="not valid Unicode: lone surrogate escape")
    return JsonLine(number, text, value)


def _encodable(value: Any) -> bool:
    """True when every string in a parsed JSON value can be encoded as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True
