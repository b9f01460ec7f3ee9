"""Reading JSON-lines files whose lines may be damaged.

Crawl batches, article files and dead letters are JSON lines; a truncated write or a hand
edit can leave a line that is not JSON. `iter_jsonl` yields every non-blank line with its
number and either the parsed value or the parse error, and each caller decides what a bad
line means for it (skip and count, record, or keep aside).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JsonLine:
    """One non-blank line: its 1-based number, its text, and the value or the error."""

    number: int
    text: str
    value: Any = None
    error: str | None = None


def iter_jsonl(path: Path) -> Iterator[JsonLine]:
    """Every non-blank line of ``path``, parsed; a line that is not JSON carries ``error``."""
    with Path(path).open(encoding="utf-8") as fh:
        for number, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                yield JsonLine(number, text, json.loads(text))
            except ValueError as exc:
                yield JsonLine(number, text, error=str(exc))
