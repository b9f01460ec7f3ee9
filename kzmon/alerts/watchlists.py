"""Watchlists (saved searches) and the alert settings, loaded from a YAML file.

The file has two top-level keys: ``settings`` (tuning shared by all watchlists, see
`AlertSettings`) and ``watchlists`` (a list of `Watchlist`). A watchlist that fails
validation is reported as an error and left out; the others still load.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

LOGGER = logging.getLogger(__name__)

#: The starter watchlists shipped with the package.
DEFAULT_WATCHLISTS_PATH = Path(__file__).resolve().parent / "watchlists.yaml"
#: Environment variable that names another watchlists file.
WATCHLISTS_ENV = "KZMON_WATCHLISTS"

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Entity ids written in a query string, e.g. entity_ids:("group:islamic-state").
_QUERY_ENTITY = re.compile(r"\b(?:place|group|person|org|organization):[a-z0-9][a-z0-9_.-]*")


class AlertSettings(BaseModel):
    """Tuning shared by every watchlist (the ``settings`` block of the file)."""

    model_config = ConfigDict(extra="forbid")

    # Documents can become searchable a little after their `indexed_at` (refresh interval,
    # slow bulk requests, a second indexer); each evaluation looks back this far before the
    # watermark. 15 minutes is many refresh intervals and cheap: repeats are filtered by
    # the sent-state.
    overlap_minutes: float = Field(15, ge=0)
    # A watchlist evaluated for the first time looks this far back, not at the whole index.
    initial_lookback_hours: float = Field(24, gt=0)
    # At most this many articles are fetched per watchlist and run (the rest stay for the
    # next run: the watermark only moves past what was seen).
    max_hits: int = Field(200, gt=0, le=10_000)
    # Word 5-shingle Jaccard similarity at or above which two texts are one story.
    near_duplicate_threshold: float = Field(0.6, gt=0, le=1)
    smtp_attempts: int = Field(4, ge=1)
    smtp_backoff_seconds: float = Field(2, ge=0)
    smtp_timeout_seconds: float = Field(20, gt=0)
    kibana_data_view: str = "kzmon-articles"
    kibana_time_range: str = "now-7d"


class Filters(BaseModel):
    """Structured filters; every list means "any of these"."""

    model_config = ConfigDict(extra="forbid")

    entities: list[str] = Field(default_factory=list)
    entities_all: list[str] = Field(default_factory=list)
    incident_types: list[str] = Field(default_factory=list)
    outlets: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    relevant: bool | None = None
    min_relevance_score: float | None = Field(None, ge=0, le=1)

    def entity_ids(self) -> set[str]:
        """Every entity id these filters reference."""
        return set(self.entities) | set(self.entities_all)


class Digest(BaseModel):
    """When a digest watchlist is sent: once a day at `hour` in `timezone`."""

    model_config = ConfigDict(extra="forbid")

    hour: int = Field(8, ge=0, le=23)
    timezone: str = "Asia/Almaty"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class Watchlist(BaseModel):
    """One saved search and who gets its alerts."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    query: str = ""
    default_operator: Literal["AND", "OR"] = "AND"
    filters: Filters = Field(default_factory=Filters)
    recipients: list[str] = Field(min_length=1)
    mode: Literal["immediate", "digest"] = "immediate"
    digest: Digest | None = None
    enabled: bool = True
    # Mail "story grew" when a story already mailed gains an outlet, a language or a new
    # fatality range (one mail per grown story); otherwise later reports of a mailed story
    # are recorded as covered and not mailed again.
    updates: bool = False

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("id must be a lower-case slug (a-z, 0-9, -)")
        return value

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n"):
            raise ValueError("name must be one line")
        return value.strip()

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            _, addr = parseaddr(value)
            if "@" not in addr or any(ch in value for ch in "\r\n"):
                raise ValueError(f"not an email address: {value!r}")
        return values

    def entity_ids(self) -> set[str]:
        """Every entity id the watchlist references (filters and query string)."""
        return self.filters.entity_ids() | set(_QUERY_ENTITY.findall(self.query))

    def digest_schedule(self) -> Digest:
        """The digest schedule (defaults when the file gives none)."""
        return self.digest or Digest()


@dataclass
class WatchlistFile:
    """What a watchlists file holds: settings, valid watchlists, and per-entry errors."""

    path: Path
    settings: AlertSettings
    watchlists: list[Watchlist]
    errors: list[dict] = field(default_factory=list)

    def find(self, key: str) -> Watchlist | None:
        """The watchlist whose id or name is `key` (case-insensitive name)."""
        for watchlist in self.watchlists:
            if key == watchlist.id or key.casefold() == watchlist.name.casefold():
                return watchlist
        return None


def watchlists_path(path: Path | None = None) -> Path:
    """The file to read: `path`, else ``$KZMON_WATCHLISTS``, else the shipped starter set."""
    if path is not None:
        return Path(path)
    env = os.environ.get(WATCHLISTS_ENV, "").strip()
    return Path(env) if env else DEFAULT_WATCHLISTS_PATH


def load_watchlists(path: Path | None = None) -> WatchlistFile:
    """Load and validate the watchlists file; invalid entries go to ``errors``.

    Raises `ValueError` only when the file itself is unusable (missing, not YAML, wrong
    shape, invalid settings).
    """
    source = watchlists_path(path)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read watchlists file {source}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("watchlists", []), list):
        raise ValueError(f"{source}: expected a mapping with a 'watchlists' list")
    try:
        settings = AlertSettings(**(raw.get("settings") or {}))
    except ValidationError as exc:
        raise ValueError(f"{source}: invalid settings: {exc}") from exc
    result = WatchlistFile(path=source, settings=settings, watchlists=[])
    for index, entry in enumerate(raw.get("watchlists") or []):
        _add_entry(result, index, entry)
    return result


def _add_entry(result: WatchlistFile, index: int, entry: object) -> None:
    label = entry.get("id", f"#{index}") if isinstance(entry, dict) else f"#{index}"
    try:
        watchlist = Watchlist.model_validate(entry)
    except ValidationError as exc:
        LOGGER.error("watchlist %s is invalid: %s", label, exc)
        result.errors.append({"watchlist": str(label), "stage": "load", "error": str(exc)})
        return
    if any(w.id == watchlist.id for w in result.watchlists):
        error = f"duplicate watchlist id {watchlist.id!r}"
        result.errors.append({"watchlist": watchlist.id, "stage": "load", "error": error})
        return
    result.watchlists.append(watchlist)
