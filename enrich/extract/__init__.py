"""Article extraction: fetched pages → article records (docs/records.md §2).

``extract_page(page, options=None)`` is the entry point; ``python -m enrich extract`` is its
command line (``enrich.extract.cli``).
"""

from __future__ import annotations

import logging

from enrich.extract.core import EXTRACTOR_VERSION, content_hash, extract_page
from enrich.extract.options import ExtractOptions

LOGGER = logging.getLogger(__name__)

__all__ = ["EXTRACTOR_VERSION", "ExtractOptions", "content_hash", "extract_page"]
