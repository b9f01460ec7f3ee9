"""The outlet registry: `spiders/outlets.yaml`, validated into typed `Outlet` models.

Every other part of the crawl stage (the spider, the replay, the Airflow DAG factory, the
health checks) reads outlets from here, so the YAML file is the one source of truth.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

LOGGER = logging.getLogger(__name__)

REGISTRY_PATH = Path(__file__).with_name("outlets.yaml")

Mode = Literal["incremental", "backfill"]
ALL_MODES: tuple[Mode, ...] = ("incremental", "backfill")
#: Parts of an entry that public material did not confirm (docs/outlets/ says what was found).
Unconfirmed = Literal["feeds", "sitemaps", "listings", "archives", "article_patterns", "markup"]


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    modes: tuple[Mode, ...] = ALL_MODES


class FeedSource(_Source):
    """An RSS or Atom feed (only its latest items: used by incremental crawls by default)."""

    url: str
    modes: tuple[Mode, ...] = ("incremental",)


class SitemapSource(_Source):
    """A sitemap index or urlset (news, monthly or archive parts; gzip allowed)."""

    url: str


class ListingSource(_Source):
    """A paginated HTML listing of articles."""

    url: str
    link_selector: str
    next_selector: str | None = None
    max_pages: int | None = None


class ArchiveSource(_Source):
    """Dated archive pages, one per month, e.g. ``...?m={year}{month:02d}``."""

    url_template: str
    link_selector: str


class Outlet(BaseModel):
    """One monitored outlet and how its articles are discovered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    languages: tuple[str, ...]
    base_url: str
    allowed_domains: tuple[str, ...]
    schedule: str = "@hourly"
    expected_cadence_hours: float = 24
    download_delay: float = 1.0
    listing_max_pages: int = 2
    backfill_max_pages: int = 50
    article_patterns: tuple[str, ...]
    feeds: tuple[FeedSource, ...] = ()
    sitemaps: tuple[SitemapSource, ...] = ()
    listings: tuple[ListingSource, ...] = ()
    archives: tuple[ArchiveSource, ...] = ()
    unconfirmed: tuple[Unconfirmed, ...] = ()

    @field_validator("article_patterns")
    @classmethod
    def _patterns_compile(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            re.compile(pattern)
        return value

    @property
    def host(self) -> str:
        """The host name of the outlet's base URL."""
        return urlsplit(self.base_url).hostname or ""

    def is_article_url(self, url: str) -> bool:
        """True when a canonical URL looks like one of this outlet's article pages."""
        return any(re.match(pattern, url) for pattern in self.article_patterns)

    def owns_url(self, url: str) -> bool:
        """True when the URL's host is one of the outlet's own domains."""
        return (urlsplit(url).hostname or "") in self.allowed_domains


@lru_cache(maxsize=4)
def _load(path: Path) -> tuple[Outlet, ...]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    defaults = raw.get("defaults", {})
    outlets = tuple(Outlet(**{**defaults, **entry}) for entry in raw["outlets"])
    ids = [outlet.id for outlet in outlets]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate outlet ids in {path}: {ids}")
    return outlets


def load_outlets(path: Path | None = None) -> list[Outlet]:
    """Every outlet of the registry, in file order."""
    return list(_load(path or REGISTRY_PATH))


def get_outlet(outlet_id: str, path: Path | None = None) -> Outlet:
    """The outlet with this id; `KeyError` when the registry has none."""
    for outlet in load_outlets(path):
        if outlet.id == outlet_id:
            return outlet
    raise KeyError(f"unknown outlet {outlet_id!r}")


def outlet_for_host(host: str) -> Outlet | None:
    """The outlet one of whose domains is this host, if any."""
    for outlet in load_outlets():
        if host in outlet.allowed_domains:
            return outlet
    return None
