"""Kazakhstan-security tagging: places, groups, people, security bodies, incident types, relevance.

``get_tagger().tag(record)`` returns the tags of one article record (``docs/records.md`` §2).
The taxonomy lives in versioned data files under ``enrich/tagging/taxonomy/``.
"""

from __future__ import annotations

import logging

from enrich.tagging.tagger import Tagger, get_tagger
from enrich.tagging.taxonomy import INCIDENT_TYPES, load_taxonomy

LOGGER = logging.getLogger(__name__)

__all__ = ["INCIDENT_TYPES", "TAXONOMY_VERSION", "Tagger", "get_tagger"]


def __getattr__(name: str) -> str:
    """``TAXONOMY_VERSION`` is read from the data files on first use."""
    if name == "TAXONOMY_VERSION":
        return load_taxonomy().version
    raise AttributeError(name)
