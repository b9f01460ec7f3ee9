"""The options object of the extractor (instead of long argument lists)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from enrich.extract.rules import DEFAULT_RULES_PATH

LOGGER = logging.getLogger(__name__)

#: Pages larger than this are refused before parsing. 10 MB is ~20x the largest article page
#: of the benchmark (181 real news pages, largest ~1.3 MB); lxml needs several times the page size.
DEFAULT_MAX_PAGE_BYTES = 10 * 1024 * 1024
MAX_PAGE_BYTES_ENV = "KZMON_MAX_PAGE_BYTES"


def max_page_bytes_from_env() -> int:
    """``KZMON_MAX_PAGE_BYTES`` as an int, or the default when unset or invalid."""
    raw = os.environ.get(MAX_PAGE_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PAGE_BYTES
    try:
        value = int(raw)
    except ValueError:
        LOGGER.warning(
            "%s=%r is not an integer; using %d", MAX_PAGE_BYTES_ENV, raw, DEFAULT_MAX_PAGE_BYTES
        )
        return DEFAULT_MAX_PAGE_BYTES
    return value if value > 0 else DEFAULT_MAX_PAGE_BYTES


@dataclass(frozen=True)
class ExtractOptions:
    """How to extract: limits, rules file and trafilatura switches.

    ``max_page_bytes`` defaults to ``KZMON_MAX_PAGE_BYTES`` (read when the options are built).
    ``fast``/``favor_precision``/``favor_recall`` are passed to trafilatura unchanged.

    The trafilatura defaults were chosen on the 181-page benchmark (``make bench-extract``,
    2026-11-21, CPU seconds for all pages, plain ``trafilatura.extract``: F1 0.9526, 5.6 s):
    with our rules, fallbacks on (trafilatura's default) F1 0.9628, 7.3 s; ``fast`` (no
    readability/jusText fallback) 0.9651, 5.1 s; ``fast`` + ``favor_recall`` 0.9660, 4.8 s;
    ``favor_precision`` 0.9662 but 6.4 s; ``fast`` + ``favor_precision`` 0.9458.
    The outlet rules remove the boilerplate that recall mode lets through on our outlets.
    """

    max_page_bytes: int = field(default_factory=max_page_bytes_from_env)
    rules_path: Path = DEFAULT_RULES_PATH
    fast: bool = True
    favor_precision: bool = False
    favor_recall: bool = True
    include_tables: bool = True
    apply_rules: bool = True
