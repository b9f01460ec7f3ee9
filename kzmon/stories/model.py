"""Stories and their members: what clustering keeps of each article, and what a story sums up.

A `Member` is the serialisable part of an article's `Features` (the stories index stores it
inside the story document, so that a story can be scored and its incident rebuilt without
reading its articles again). A `Story` is its members plus the ids merged into it; its
`Profile` (places, regions, actors, types, event-date span, publication span) is derived
from the members on demand.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from kzmon.alerts.grouping import sketch
from kzmon.stories.features import Features, parse_time
from kzmon.stories.numbers import Count

LOGGER = logging.getLogger(__name__)

STORY_ID_PREFIX = "s-"
#: Hex digits of the founding article's doc_id in a story id (64 bits: no collision in
#: any archive this pipeline will hold).
STORY_ID_HEX = 16


def story_id_for(doc_id: str) -> str:
    """The id of a story founded by an article: derived from its doc_id (reruns agree)."""
    return STORY_ID_PREFIX + doc_id[:STORY_ID_HEX]


@dataclass
class Member:
    """One article of a story, as clustering and incident records need it."""

    doc_id: str
    url: str
    outlet: str
    language: str
    title: str
    published: datetime
    event_date: date
    event_precision: str
    event_stated: bool
    place_weights: dict[str, float]
    region_weights: dict[str, float]
    countries: dict[str, float]
    main_place: str | None
    actors: dict[str, str]
    actor_names: dict[str, str]
    types: list[str]
    relevant: bool
    relevance: float
    counts: dict[str, list[int] | None]
    terms: list[str]
    content_hash: str
    sketch: list[int]

    @classmethod
    def from_features(cls, f: Features) -> Member:
        """The member record of an article's features."""
        return cls(
            doc_id=f.doc_id,
            url=f.url,
            outlet=f.outlet,
            language=f.language,
            title=f.title,
            published=f.published,
            event_date=f.event.value,
            event_precision=f.event.precision,
            event_stated=f.event.stated,
            place_weights=dict(f.place_weights),
            region_weights=dict(f.region_weights),
            countries=dict(f.countries),
            main_place=f.main_place,
            actors=dict(f.actors),
            actor_names=dict(f.actor_names),
            types=sorted(f.types),
            relevant=f.relevant,
            relevance=round(f.relevance, 3),
            counts={k: [c.low, c.high] if c else None for k, c in f.counts.items()},
            terms=sorted(f.terms),
            content_hash=f.content_hash,
            sketch=sketch(f.shingles),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the stories index)."""
        out = asdict(self)
        out["published"] = self.published.isoformat()
        out["event_date"] = self.event_date.isoformat()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Member:
        """The member back from its stored form."""
        values = dict(raw)
        values["published"] = parse_time(values["published"])
        values["event_date"] = date.fromisoformat(values["event_date"])
        return cls(**values)

    def count(self, kind: str) -> Count | None:
        """The reported count of a kind (fatalities, injured, arrested)."""
        value = self.counts.get(kind)
        return Count(value[0], value[1]) if value else None

    @property
    def pub_day(self) -> date:
        """The publication day (local)."""
        from kzmon.stories.dates import local_date

        return local_date(self.published)


def _add(total: Counter[str], weights: dict[str, float]) -> None:
    norm = sum(weights.values()) or 1.0
    for key, value in weights.items():
        total[key] += value / norm


@dataclass
class Story:
    """A story: its id, its members (oldest first) and the ids merged into it."""

    id: str
    members: list[Member] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)

    def add(self, member: Member) -> None:
        """Add (or replace, by doc_id) a member; keeps publication order."""
        self.members = [m for m in self.members if m.doc_id != member.doc_id]
        self.members.append(member)
        self.members.sort(key=lambda m: (m.published, m.doc_id))
        self.__dict__.pop("profile", None)

    def absorb(self, other: Story) -> None:
        """Merge another story into this one (its id becomes an alias)."""
        for member in other.members:
            self.add(member)
        self.aliases = sorted({*self.aliases, other.id, *other.aliases} - {self.id})

    @cached_property
    def profile(self) -> Profile:
        """What the members sum up to (recomputed after every change)."""
        return Profile.of(self.members)

    @property
    def founded(self) -> tuple[datetime, str]:
        """When and by which article the story began (the older story survives a merge)."""
        first = self.members[0]
        return first.published, first.doc_id


@dataclass
class Profile:
    """The aggregate signals of a story's members."""

    places: Counter[str]
    regions: Counter[str]
    countries: Counter[str]
    actors: Counter[str]
    types: Counter[str]
    main_places: Counter[str]
    event_span: tuple[date, date] | None  # span of the stated day-precision dates
    core_date: date | None
    pub_span: tuple[date, date]
    first_published: datetime
    last_published: datetime
    languages: frozenset[str]
    hashes: frozenset[str]
    size: int

    @classmethod
    def of(cls, members: list[Member]) -> Profile:
        """The profile of a list of members (at least one)."""
        places: Counter[str] = Counter()
        regions: Counter[str] = Counter()
        countries: Counter[str] = Counter()
        actors: Counter[str] = Counter()
        types: Counter[str] = Counter()
        mains: Counter[str] = Counter()
        stated: Counter[date] = Counter()
        for m in members:
            _add(places, m.place_weights)
            _add(regions, m.region_weights)
            _add(countries, m.countries)
            actors.update(m.actors.keys())
            types.update(m.types)
            if m.main_place:
                mains[m.main_place] += 1
            if m.event_stated and m.event_precision == "day":
                stated[m.event_date] += 1
        days = sorted(stated)
        pubs = sorted(m.pub_day for m in members)
        core = min(stated, key=lambda d: (-stated[d], d)) if stated else None
        return cls(
            places=places,
            regions=regions,
            countries=countries,
            actors=actors,
            types=types,
            main_places=mains,
            event_span=(days[0], days[-1]) if days else None,
            core_date=core,
            pub_span=(pubs[0], pubs[-1]),
            first_published=min(m.published for m in members),
            last_published=max(m.published for m in members),
            languages=frozenset(m.language for m in members),
            hashes=frozenset(m.content_hash for m in members if m.content_hash),
            size=len(members),
        )

    def date_span(self) -> tuple[date, date]:
        """The event-date span, else the publication span."""
        return self.event_span or self.pub_span

    def window(self, slack_days: int) -> tuple[date, date]:
        """The story's days widened by `slack_days` on both sides."""
        lo, hi = self.date_span()
        return lo - timedelta(days=slack_days), hi + timedelta(days=slack_days)
