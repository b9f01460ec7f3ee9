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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
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


#: Days named in one article kept on its member (a chronology names many).
MAX_NAMED_DAYS = 8


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
    names: list[str] = field(default_factory=list)
    hazard: bool = False
    named_days: list[str] = field(default_factory=list)  # ISO days the text names

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
            names=list(f.names),
            hazard=f.hazard,
            named_days=sorted(d.isoformat() for d in f.stated_days)[:MAX_NAMED_DAYS],
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
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}  # a later version's extra fields
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


#: Member summaries a story keeps: its first reports (the founder decides merges) and its
#: latest ones (what new reports are compared with). Older ones are folded into the story's
#: `Tally`, so counts, places, dates and casualty figures still cover every report, and a
#: story of thousands of reports stays a document of a few hundred kilobytes. The articles
#: keep their ``story_id``: searching the articles index by it lists every member.
MAX_MEMBERS = 100
FIRST_KEPT = 10
#: Member ids a story document lists (the latest; re-indexed articles find their story
#: through them) and candidate keys it is filed under (the most frequent).
MAX_MEMBER_IDS = 1000
MAX_KEYS = 400


@dataclass
class Tally:
    """What a story's reports add up to: counts that can be summed report by report (and
    merged when stories merge) without keeping the reports."""

    size: int = 0
    relevant: int = 0
    relevance: float = 0.0
    hazard: int = 0
    types: Counter[str] = field(default_factory=Counter)
    places: Counter[str] = field(default_factory=Counter)
    regions: Counter[str] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)
    actors: Counter[str] = field(default_factory=Counter)
    actor_kinds: dict[str, str] = field(default_factory=dict)
    actor_names: dict[str, str] = field(default_factory=dict)
    main_places: Counter[str] = field(default_factory=Counter)
    stated_days: Counter[str] = field(default_factory=Counter)  # ISO day, day precision
    stated: Counter[str] = field(default_factory=Counter)  # "ISO day|precision"
    languages: Counter[str] = field(default_factory=Counter)
    outlets: Counter[str] = field(default_factory=Counter)
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # kind -> "low:high"
    keys: Counter[str] = field(default_factory=Counter)
    headlines: dict[str, str] = field(default_factory=dict)  # first title per language
    first_published: str = ""
    last_published: str = ""
    first_day: str = ""
    last_day: str = ""
    member_ids: list[str] = field(default_factory=list)  # of folded members, latest last

    def add(self, m: Member, keys: list[str]) -> None:
        """Count one more report."""
        self.size += 1
        self.relevant += int(m.relevant)
        self.relevance += m.relevance
        self.hazard += int(m.hazard)
        self.types.update(set(m.types))
        _add(self.places, m.place_weights)
        _add(self.regions, m.region_weights)
        _add(self.countries, m.countries)
        self.actors.update(m.actors.keys())
        self.actor_kinds.update(m.actors)
        self.actor_names.update(m.actor_names)
        if m.main_place:
            self.main_places[m.main_place] += 1
        if m.event_stated:
            self.stated[f"{m.event_date.isoformat()}|{m.event_precision}"] += 1
            if m.event_precision == "day":
                self.stated_days[m.event_date.isoformat()] += 1
        self.languages[m.language] += 1
        if m.outlet:
            self.outlets[m.outlet] += 1
        for kind, value in m.counts.items():
            if value:
                self.counts.setdefault(kind, Counter())[f"{value[0]}:{value[1]}"] += 1
        self.keys.update(keys)
        self.headlines.setdefault(m.language, m.title)
        self._span(m.published.isoformat(), m.pub_day.isoformat())

    def _span(self, published: str, day: str) -> None:
        if not self.first_published or _moment(published) < _moment(self.first_published):
            self.first_published, self.first_day = published, day
        if not self.last_published or _moment(published) > _moment(self.last_published):
            self.last_published, self.last_day = published, day

    def merge(self, other: Tally) -> None:
        """Add another tally (a merged story's)."""
        self.size += other.size
        self.relevant += other.relevant
        self.relevance += other.relevance
        self.hazard += other.hazard
        for name in (
            "types", "places", "regions", "countries", "actors", "main_places",
            "stated_days", "stated", "languages", "outlets", "keys",
        ):  # fmt: skip
            getattr(self, name).update(getattr(other, name))
        self.actor_kinds.update(other.actor_kinds)
        self.actor_names.update(other.actor_names)
        for kind, values in other.counts.items():
            self.counts.setdefault(kind, Counter()).update(values)
        for language, title in other.headlines.items():
            self.headlines.setdefault(language, title)
        if other.first_published:
            self._span(other.first_published, other.first_day)
            self._span(other.last_published, other.last_day)
        self.member_ids = (self.member_ids + other.member_ids)[-MAX_MEMBER_IDS:]

    def plus(self, members: list[Member], keys_of: Callable[[Member], list[str]]) -> Tally:
        """A copy of this tally with `members` counted too."""
        total = Tally()
        total.merge(self)
        total.member_ids = []
        for m in members:
            total.add(m, keys_of(m))
        return total

    def count_list(self, kind: str) -> list[Count | None]:
        """Every report's count of a kind (None for the reports that state none)."""
        out: list[Count | None] = []
        for value, times in (self.counts.get(kind) or {}).items():
            low, high = value.split(":")
            out += [Count(int(low), int(high))] * times
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the story document, not indexed)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):  # asdict would rebuild a Counter from its items
                value = {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}
            elif isinstance(value, list):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Tally:
        """A tally back from its stored form (empty for a story that folded nothing)."""
        if not raw:
            return cls()
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in raw.items() if k in known}
        for name, kind in cls.__dataclass_fields__.items():
            if name in values and str(kind.type).startswith("Counter"):
                values[name] = Counter(values[name])
        values["counts"] = {k: Counter(v) for k, v in (raw.get("counts") or {}).items()}
        return cls(**values)


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _member_keys(m: Member) -> list[str]:
    from kzmon.stories.cluster import candidate_keys

    return candidate_keys(m)


@dataclass
class Story:
    """A story: its id, the reports it keeps (oldest first), the tally of the reports it
    folded away (see `MAX_MEMBERS`) and the ids merged into it."""

    id: str
    members: list[Member] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    rest: Tally = field(default_factory=Tally)

    def add(self, member: Member) -> None:
        """Add (or replace, by doc_id) a member; keeps publication order and the bound."""
        self.members = [m for m in self.members if m.doc_id != member.doc_id]
        self.members.append(member)
        self.members.sort(key=lambda m: (m.published, m.doc_id))
        while len(self.members) > MAX_MEMBERS:
            folded = self.members.pop(FIRST_KEPT)
            self.rest.add(folded, _member_keys(folded))
            self.rest.member_ids = [*self.rest.member_ids, folded.doc_id][-MAX_MEMBER_IDS:]
        self._changed()

    def _changed(self) -> None:
        self.__dict__.pop("profile", None)
        self.__dict__.pop("tally", None)

    def absorb(self, other: Story) -> None:
        """Merge another story into this one (its id becomes an alias)."""
        self.rest.merge(other.rest)
        for member in other.members:
            self.add(member)
        self.aliases = sorted({*self.aliases, other.id, *other.aliases} - {self.id})
        self._changed()

    @cached_property
    def tally(self) -> Tally:
        """Every report counted: the folded ones and the kept ones (keys: the folded ones'
        only; `keys` adds the kept ones')."""
        return self.rest.plus(self.members, lambda m: [])

    def keys(self) -> list[str]:
        """The candidate keys the story is filed under (at most `MAX_KEYS`)."""
        counts = Counter(self.rest.keys)
        for m in self.members:
            counts.update(_member_keys(m))
        return sorted(k for k, _ in counts.most_common(MAX_KEYS))

    @cached_property
    def profile(self) -> Profile:
        """What the members sum up to (recomputed after every change)."""
        return Profile.of(self.members, self.tally)

    @property
    def size(self) -> int:
        """How many reports the story has (kept and folded)."""
        return len(self.members) + self.rest.size

    def member_ids(self) -> list[str]:
        """Ids of the story's articles, at most `MAX_MEMBER_IDS` (the latest folded ones)."""
        kept = [m.doc_id for m in self.members]
        room = max(0, MAX_MEMBER_IDS - len(kept))
        return (self.rest.member_ids[-room:] if room else []) + kept

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
    def of(cls, members: list[Member], tally: Tally | None = None) -> Profile:
        """The profile of a story: its tally (every report), the hashes of its kept ones."""
        if tally is None:
            tally = Tally().plus(members, lambda m: [])
        stated = Counter({date.fromisoformat(d): n for d, n in tally.stated_days.items()})
        days = sorted(stated)
        core = min(stated, key=lambda d: (-stated[d], d)) if stated else None
        return cls(
            places=Counter(tally.places),
            regions=Counter(tally.regions),
            countries=Counter(tally.countries),
            actors=Counter(tally.actors),
            types=Counter(tally.types),
            main_places=Counter(tally.main_places),
            event_span=(days[0], days[-1]) if days else None,
            core_date=core,
            pub_span=(date.fromisoformat(tally.first_day), date.fromisoformat(tally.last_day)),
            first_published=_moment(tally.first_published),
            last_published=_moment(tally.last_published),
            languages=frozenset(tally.languages),
            hashes=frozenset(m.content_hash for m in members if m.content_hash),
            size=tally.size,
        )

    def date_span(self) -> tuple[date, date]:
        """The event-date span, else the publication span."""
        return self.event_span or self.pub_span

    def window(self, slack_days: int) -> tuple[date, date]:
        """The story's days widened by `slack_days` on both sides."""
        lo, hi = self.date_span()
        return lo - timedelta(days=slack_days), hi + timedelta(days=slack_days)
