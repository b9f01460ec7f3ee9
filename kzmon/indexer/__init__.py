"""The indexer stage: article records → Elasticsearch (docs/records.md §3).

- `setup.ensure_setup` — templates, the first index and its aliases (idempotent)
- `to_document`, `index_articles`, `index_batch_file` — idempotent bulk indexing
- `retag.retag` — re-tag the archive into a new index version and swap the aliases
- `search.search_articles` — full-text search with filters and highlights
- ``python -m kzmon.indexer setup|index FILE|retag|search ...``
"""

from __future__ import annotations

import logging

from kzmon.indexer.bulk import (
    IndexingError,
    IndexOptions,
    IndexResult,
    index_articles,
    index_batch_file,
)
from kzmon.indexer.documents import doc_id_for, to_document

LOGGER = logging.getLogger(__name__)

__all__ = [
    "IndexOptions",
    "IndexResult",
    "IndexingError",
    "doc_id_for",
    "index_articles",
    "index_batch_file",
    "to_document",
]
