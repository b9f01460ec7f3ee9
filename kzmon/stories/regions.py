"""Places of the taxonomy as stories need them: region (admin1), country, kind, names, coordinates.

The tagging stage is giving every Kazakhstan place its ``admin1`` (ROSTER contract 2). Until
every tagger output carries it, `admin1_of` derives the region from the curated places
(``parent`` links in ``places.yaml``); it prefers the field when the entity or the taxonomy
has it. That function is the one place to change when the field is everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

LOGGER = logging.getLogger(__name__)

KZ = "KZ"
#: Cities of republican significance: their own first-level division.
_OWN_ADMIN1_KINDS = frozenset({"region"})


@dataclass(frozen=True)
class PlaceInfo:
    """What stories use of one taxonomy place."""

    id: str
    name: str
    kind: str
    country: str
    admin1: str | None
    lat: float | None
    lon: float | None
    names: dict[str, str]  # a display name per language (first alias)


@cache
def _places() -> dict[str, PlaceInfo]:
    from enrich.tagging.taxonomy import load_taxonomy

    entities = load_taxonomy().entities
    out: dict[str, PlaceInfo] = {}
    for ref, entity in entities.items():
        if entity.type != "place":
            continue
        raw_admin1 = getattr(entity, "admin1", None)
        admin1 = raw_admin1 if isinstance(raw_admin1, str) else _derived_admin1(ref, entities)
        names = {"en": entity.name}
        for lang in ("ru", "kk"):
            aliases = [a.lstrip("?^").rstrip("~*") for a in entity.aliases.get(lang, [])]
            aliases += [a for a in entity.region_names.get(lang, []) if "{" not in a]
            if aliases:
                names[lang] = aliases[0]
        geo = entity.geo
        out[ref] = PlaceInfo(
            id=ref,
            name=entity.name,
            kind=entity.kind,
            country=entity.country,
            admin1=admin1,
            lat=geo.lat if geo else None,
            lon=geo.lon if geo else None,
            names=names,
        )
    return out


def _derived_admin1(ref: str, entities: dict[str, Any]) -> str | None:
    """The first-level division of a Kazakhstan place from the curated ``parent`` links."""
    entity = entities[ref]
    if entity.country != KZ:
        return None
    seen: set[str] = set()
    while entity is not None and entity.id not in seen:
        seen.add(entity.id)
        if entity.kind in _OWN_ADMIN1_KINDS or (entity.kind == "city" and not entity.parent):
            return entity.id
        entity = entities.get(entity.parent) if entity.parent else None
    return None


def place_info(ref: str) -> PlaceInfo | None:
    """The taxonomy's facts about a place id (None for an unknown id)."""
    return _places().get(ref)


def admin1_of(entity: dict[str, Any]) -> str | None:
    """The region (admin1) id of a tagged place: the tagger's field, else the curated parents."""
    value = entity.get("admin1")
    if isinstance(value, str) and value:
        return value
    info = place_info(str(entity.get("id") or ""))
    return info.admin1 if info else None


@cache
def _split_regions() -> dict[str, str]:
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parent / "context.yaml"
    return dict(yaml.safe_load(path.read_text(encoding="utf-8"))["split_regions"])


def region_family(ref: str) -> str:
    """A region and the one it was split from in 2022 are one area for clustering (Ulytau
    and Karaganda regions): the older region's id for both."""
    return _split_regions().get(ref, ref)


def country_of(ref: str) -> str:
    """ISO country code of a place id ("" when unknown)."""
    info = place_info(ref)
    return info.country if info else ""
