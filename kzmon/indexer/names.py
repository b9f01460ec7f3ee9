"""Names of the indices, aliases and templates, all derived from `KZMON_INDEX_PREFIX`."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from kzmon.settings import get_settings

LOGGER = logging.getLogger(__name__)

_VERSION_RE = re.compile(r"-v(\d+)$")


@dataclass(frozen=True)
class Names:
    """Every Elasticsearch name kzmon uses, for one prefix."""

    prefix: str

    @property
    def read_alias(self) -> str:
        """The alias searchers (alerts, Kibana, the CLI) read from."""
        return f"{self.prefix}-articles"

    @property
    def write_alias(self) -> str:
        """The alias the indexer writes to (`is_write_index` on one concrete index)."""
        return f"{self.prefix}-articles-write"

    @property
    def ops_index(self) -> str:
        """Run metrics and health documents."""
        return f"{self.prefix}-ops"

    @property
    def articles_pattern(self) -> str:
        """The pattern every versioned article index matches."""
        return f"{self.prefix}-articles-v*"

    def articles_index(self, version: int) -> str:
        """The concrete article index of one version, e.g. ``kzmon-articles-v1``."""
        return f"{self.prefix}-articles-v{version}"

    def component(self, part: str) -> str:
        """The name of an article component template (settings, mappings, analysis)."""
        return f"{self.prefix}-articles-{part}"

    @property
    def articles_template(self) -> str:
        """The composable index template of the article indices."""
        return f"{self.prefix}-articles"

    @property
    def ops_template(self) -> str:
        """The index template of the ops index."""
        return f"{self.prefix}-ops"


def get_names(prefix: str | None = None) -> Names:
    """The names for a prefix (default: `get_settings().es_index_prefix`)."""
    return Names(prefix or get_settings().es_index_prefix)


def index_version(index: str) -> int:
    """The version number at the end of a concrete index name (``...-v3`` → 3)."""
    match = _VERSION_RE.search(index)
    if not match:
        raise ValueError(f"not a versioned article index: {index!r}")
    return int(match.group(1))
