"""Incident records of security stories, with fields modelled on ACLED and UCDP GED.

`build_incident(story)` codes a story once, from all its reports: the event date (the day
most reports state, else the first report's day) and its precision, the incident types with
ACLED's event_type/sub_event_type (``acled.yaml``), the location (place id, name, admin1,
lat/lon, geo_precision as ACLED: 1 town or site, 2 area, 3 region), the actors, fatalities,
injured and arrested as ``{min, max}`` over the reports, the sources, first_reported,
last_updated and a title per language. Stories that are not about security in Kazakhstan
(most reports not relevant, no incident type, or a place outside Kazakhstan) get None.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from kzmon.stories.model import Member, Story
from kzmon.stories.numbers import KINDS, merge_counts
from kzmon.stories.regions import KZ, place_info

LOGGER = logging.getLogger(__name__)

DATA_FILE = Path(__file__).resolve().parent / "acled.yaml"
LANGUAGES = ("en", "ru", "kk")
#: A type names the story when at least this share of its reports carry it (one report of
#: five mentioning an arrest in passing does not make an attack an arrest).
TYPE_SHARE = 0.3
#: At least this share of the reports must be relevant to security in Kazakhstan.
RELEVANT_SHARE = 0.5
#: ... or, when fewer are, their mean relevance score at least this (a protest most reports
#: cover as economy news, one as security news).
MEAN_RELEVANCE = 0.35
GEO_PRECISION = {"city": 1, "site": 1, "area": 2, "region": 3}
SECURITY_ORGS_TYPES = frozenset({"organization"})


@cache
def _acled() -> dict[str, Any]:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


def story_types(story: Story) -> list[str]:
    """The incident types most reports carry, most severe first."""
    counts: Counter[str] = story.tally.types
    floor = max(1.0, TYPE_SHARE * story.size)
    ranks = {t: spec["rank"] for t, spec in _acled()["types"].items()}
    chosen = [t for t, n in counts.items() if n >= floor and t in ranks]
    if not chosen and counts:
        chosen = [max(counts, key=lambda t: (counts[t], -ranks.get(t, 99)))]
    return sorted(chosen, key=lambda t: ranks.get(t, 99))


#: Types that name an incident only with help: deaths alone (a crash, a murder), a state of
#: emergency alone (a lockdown, floods), explosions or a ban alone in a story of an accident
#: or an epidemic (a depot fire, "banning mass gatherings").
WEAK_TYPES = frozenset({"killing", "state_of_emergency"})
HAZARD_TYPES = frozenset({"killing", "state_of_emergency", "bombing", "ban"})
#: A story is about an accident, disaster or epidemic when this share of its reports say so.
HAZARD_SHARE = 0.5
#: Actors that make deaths alone a security incident (a border guard killed; a gunman shot
#: dead by police): security bodies and militant groups.
SECURITY_ACTOR_TYPES = frozenset({"organization", "group"})


def _weak(story: Story, types: list[str]) -> bool:
    """True when the story's incident types do not make it a security incident."""
    tally = story.tally
    if tally.hazard >= HAZARD_SHARE * tally.size and set(types) <= HAZARD_TYPES:
        return True
    if set(types) <= WEAK_TYPES:
        return not set(tally.actor_kinds.values()) & SECURITY_ACTOR_TYPES
    return False


def is_security(story: Story) -> bool:
    """True when the story is about security in Kazakhstan (it gets an incident record)."""
    tally = story.tally
    relevant, size = tally.relevant, tally.size
    types = story_types(story)
    if not relevant or not types or _weak(story, types):
        return False
    if relevant < RELEVANT_SHARE * size and tally.relevance / size < MEAN_RELEVANCE:
        return False
    place = location_place(story)
    if place is None:
        countries = story.profile.countries
        return not countries or max(countries, key=lambda c: (countries[c], c)) == KZ
    info = place_info(place)
    return info is None or info.country == KZ


def location_place(story: Story) -> str | None:
    """The place most reports are about (ties: the heavier weight over all reports)."""
    votes = story.tally.main_places
    if not votes:
        return None
    weights = story.tally.places
    return min(votes, key=lambda ref: (-votes[ref], -weights[ref], ref))


def incident_date(story: Story) -> tuple[date, str]:
    """The event's date and precision (day | week | month)."""
    profile = story.profile
    if profile.core_date is not None:
        return profile.core_date, "day"
    if story.tally.stated:
        votes = story.tally.stated
        key = min(votes, key=lambda k: (-votes[k], k))
        day, precision = key.split("|")
        return date.fromisoformat(day), precision
    return story.members[0].pub_day, "day"


def _location(ref: str | None) -> dict[str, Any] | None:
    info = place_info(ref) if ref else None
    if info is None:
        return None
    region = place_info(info.admin1) if info.admin1 else None
    return {
        "place_id": info.id,
        "name": info.name,
        "admin1": info.admin1,
        "admin1_name": region.name if region else None,
        "country": info.country,
        "lat": info.lat,
        "lon": info.lon,
        "geo_precision": GEO_PRECISION.get(info.kind, 3),
    }


def _actors(story: Story) -> list[dict[str, str]]:
    tally = story.tally
    ordered = sorted(tally.actors, key=lambda a: (-tally.actors[a], a))
    return [
        {"id": a, "name": tally.actor_names.get(a, a), "type": tally.actor_kinds[a]}
        for a in ordered
    ]


def acled_types(types: list[str], actors: list[dict[str, str]], arrests: bool) -> dict[str, str]:
    """ACLED event_type and sub_event_type of the most severe type."""
    spec = _acled()["types"][types[0]]
    has_security = any(a["type"] in SECURITY_ORGS_TYPES for a in actors)
    if has_security and "with_security_forces" in spec:
        spec = spec["with_security_forces"]
    elif arrests and "with_arrests" in spec:
        spec = spec["with_arrests"]
    return {"event_type": spec["event_type"], "sub_event_type": spec["sub_event_type"]}


def _date_text(value: date, precision: str, language: str) -> str:
    months = _acled()["months"]
    if language == "en":
        return value.strftime("%B %Y") if precision == "month" else f"{value.day} {value:%B %Y}"
    month = months[language][value.month - 1]
    if language == "ru":
        return (
            f"{month} {value.year}" if precision == "month" else f"{value.day} {month} {value.year}"
        )
    return (
        f"{value.year} ж. {month}"
        if precision == "month"
        else f"{value.year} ж. {value.day} {month}"
    )


def titles(types: list[str], location: dict[str, Any] | None, day: date, precision: str) -> dict:
    """A title per language: "<type>: <place>, <date>"."""
    names = _acled()["type_names"]
    info = place_info(location["place_id"]) if location else None
    out = {}
    for language in LANGUAGES:
        head = names[language][types[0]]
        where = (info.names.get(language) or info.name) if info else ""
        when = _date_text(day, precision, language)
        out[language] = f"{head}: {where}, {when}" if where else f"{head}, {when}"
    return out


def build_incident(story: Story) -> dict[str, Any] | None:
    """The incident record of a story (None when the story is not about security)."""
    if not is_security(story):
        return None
    members = story.members
    tally = story.tally
    types = story_types(story)
    day, precision = incident_date(story)
    location = _location(location_place(story))
    actors = _actors(story)
    counts = {kind: merge_counts(tally.count_list(kind)) for kind in KINDS}
    arrests = bool(counts["arrested"] and counts["arrested"]["max"])
    return {
        "story_id": story.id,
        "date": day.isoformat(),
        "date_precision": precision,
        "types": types,
        **acled_types(types, actors, arrests),
        "location": location,
        "actors": actors,
        **counts,
        "sources": [
            {
                "outlet": m.outlet,
                "url": m.url,
                "language": m.language,
                "published_at": m.published.isoformat(),
            }
            for m in _listed(members)
        ],
        "source_count": story.size,
        "first_reported": tally.first_published,
        "last_updated": tally.last_published,
        "title": titles(types, location, day, precision),
        "headlines": dict(tally.headlines),
    }


#: Sources an incident record lists: its first reports and its latest (`source_count`
#: says how many there are; every one carries the story's ``story_id``).
MAX_SOURCES = 50
FIRST_SOURCES = 10


def _listed(members: list[Member]) -> list[Member]:
    if len(members) <= MAX_SOURCES:
        return members
    return members[:FIRST_SOURCES] + members[-(MAX_SOURCES - FIRST_SOURCES) :]
