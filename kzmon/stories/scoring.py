"""How well an article fits a story: a sum of evidence, with vetoes for different events.

Evidence (weights chosen on the labelled set, tests/stories/labelled.yaml, and kept round):

- **event date**: both state a day and they agree within a day (+2), within 3 days (+0.5);
  stated days further apart are different events (veto). Unstated dates (the publication
  day stands in) agree more weakly and decay with distance; more than 30 days apart is a veto.
- **place**: the taxonomy's place ids and their regions (admin1), weighted by mentions and
  position: the same town (+2), the same region (+1); Kazakh places in different regions,
  or different countries, are different events (veto).
- **incident types**: shared types (up to +1); types of unrelated families (a trial and a
  bombing) count against (-1).
- **actors**: shared groups and people (+0.5 each, up to +1).
- **numbers**: the same death toll (+0.5).
- **title and lead**, same language only: overlap of stemmed content words (up to +3).
- **publication time**: without a matching stated date, -0.25 per day between the article and
  the story's nearest report.
- A syndicated copy (same content hash, or word-shingle sketches at least 60 % alike) always
  joins.

An article joins the best story scoring at least `JOIN_SCORE`; when it also fits a second
story at least `MERGE_SCORE` and the two stories do not veto each other, they merge.
"""

from __future__ import annotations

import logging
import math
from datetime import date

from kzmon.alerts.grouping import sketch_similarity
from kzmon.stories.dates import span_of
from kzmon.stories.model import Member, Profile, Story
from kzmon.stories.regions import KZ, PlaceInfo, place_info, region_family

LOGGER = logging.getLogger(__name__)

VETO = -math.inf
SAME = math.inf
JOIN_SCORE = 3.0
MERGE_SCORE = 4.5
#: Sketch similarity at which two texts are copies of one report (the alerts' threshold).
COPY_SIMILARITY = 0.6
STATED_SAME_DAYS = 1
STATED_NEAR_DAYS = 3
UNSTATED_MAX_DAYS = 30
#: An article about a town in another region than the story's (a protest in Zhanaozen, a
#: riot in Almaty three days later) is most likely another event.
MAIN_PLACE_MISMATCH = -2.0
#: A region with less than this share of a report's place weight is a passing mention.
MINOR_REGION_SHARE = 0.2
#: ... and an article gives its main subject at least this share.
MAJOR_REGION_SHARE = 0.5
#: Cities of republican significance and the region around them.
SURROUNDING = {
    "place:almaty": "place:almaty-region",
    "place:astana": "place:akmola-region",
    "place:shymkent": "place:turkistan-region",
}
DECAY_PER_DAY = 0.25

FAMILIES = {
    "bombing": "violence",
    "suicide_attack": "violence",
    "armed_attack": "violence",
    "killing": "violence",
    "hostage_taking": "violence",
    "counter_terrorism_operation": "violence",
    "prison_incident": "violence",
    "protest": "unrest",
    "riot": "unrest",
    "state_of_emergency": "unrest",
    "arrest": "legal",
    "trial": "legal",
    "ban": "legal",
    "threat": "threat",
    "radicalization": "threat",
}


def _distance(day: date, span: tuple[date, date]) -> int:
    lo, hi = span
    if lo <= day <= hi:
        return 0
    return (lo - day).days if day < lo else (day - hi).days


def _member_span(m: Member) -> tuple[date, date]:
    return span_of(m.event_date, m.event_precision)


def _gap(a: tuple[date, date], b: tuple[date, date]) -> int:
    """Days between two spans (0 when they overlap)."""
    return max((a[0] - b[1]).days, (b[0] - a[1]).days, 0)


def date_score(m: Member, p: Profile) -> float:
    """Evidence from the event dates (VETO for different days).

    A week ("last week") or a month ("in June") agrees with a story whose days fall in it;
    a stated day against the story's stated days is strong evidence either way; without a
    stated date the publication day stands in and agrees weakly, decaying with distance.
    """
    if m.event_stated and m.event_precision in ("week", "month"):
        gap = _gap(_member_span(m), p.date_span())
        if gap == 0:
            return 1.5 if m.event_precision == "week" else 1.0
        return VETO if gap > UNSTATED_MAX_DAYS else 0.0
    if m.event_stated and p.event_span is not None:
        distance = _distance(m.event_date, p.event_span)
        if distance <= STATED_SAME_DAYS:
            return 2.0
        if _names_story_day(m, p):
            return NAMED_DAY_SCORE
        if distance <= STATED_NEAR_DAYS:
            return 0.5
        return VETO
    distance = _distance(m.event_date, p.date_span())
    if distance > UNSTATED_MAX_DAYS:
        return VETO
    if p.event_span is None and not m.event_stated:
        return 1.0 if distance <= STATED_SAME_DAYS else 0.3
    return 1.0 if distance <= STATED_SAME_DAYS else 0.5 - 0.1 * distance


def _norm(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values()) or 1.0
    return {k: v / total for k, v in weights.items()}


def _overlap(a: dict[str, float], b: dict[str, float]) -> float:
    na, nb = _norm(a), _norm(b)
    return sum(min(na[k], nb[k]) for k in na.keys() & nb.keys())


def _specific(weights: dict[str, float]) -> dict[str, float]:
    """Places below country level (towns, sites, regions, areas)."""
    out = {}
    for ref, weight in weights.items():
        info = place_info(ref)
        if info is None or info.kind != "country":
            out[ref] = weight
    return out


#: A report dated otherwise that names one of the story's days (a follow-up: "on February 12
#: police detained ... over the clashes of February 7-8").
NAMED_DAY_SCORE = 1.0


def _names_story_day(m: Member, p: Profile) -> bool:
    if p.event_span is None or not m.named_days:
        return False
    lo, hi = p.event_span
    return any(lo <= date.fromisoformat(d) <= hi for d in m.named_days)


def abroad(weights: dict[str, float], main: str | None) -> str | None:
    """The foreign country an article is located in (None: Kazakhstan or nowhere).

    A neighbouring country named in passing ("fled across the border to Kyrgyzstan") does
    not locate a report abroad: its main place must be a foreign town or region, or a
    foreign country named in the title or lede."""
    info = place_info(main) if main else None
    if info is None or info.country == KZ:
        return None
    if info.kind != "country" or weights.get(main or "", 0.0) >= LOCATED_WEIGHT:
        return info.country
    return None


#: A foreign country weighing this much was named in the title or the lede.
LOCATED_WEIGHT = 3.0


def _country_veto(m: Member, p: Profile, story_main: str | None) -> bool:
    mine = abroad(m.place_weights, m.main_place)
    theirs = abroad(dict(p.places), story_main)
    if mine == theirs:
        return False
    m_kz = mine is None and (KZ in m.countries or not m.countries)
    p_kz = theirs is None and (KZ in p.countries or not p.countries)
    if mine and theirs:
        return True  # two countries
    return (mine is not None and p_kz) or (theirs is not None and m_kz)


def place_score(m: Member, p: Profile) -> float:
    """Evidence from places and regions (VETO for different regions or countries)."""
    story_main = max(p.main_places, key=lambda r: (p.main_places[r], r)) if p.main_places else None
    if _country_veto(m, p, story_main):
        return VETO
    m_places, p_places = _specific(m.place_weights), _specific(dict(p.places))
    if not m_places or not p_places:
        return 0.0
    towns = _overlap(m_places, p_places)
    if m.region_weights and p.regions:
        regions = _overlap(_families(m.region_weights), _families(dict(p.regions)))
        if regions == 0.0 and towns == 0.0:
            return VETO
    else:
        regions = 0.0
    main_bonus = 1.0 if m.main_place and m.main_place in p.main_places else 0.0
    evidence = min(2.0, 2.0 * towns + 1.0 * regions + main_bonus)
    if _main_regions_differ(m, p):
        return min(evidence, 0.0) + MAIN_PLACE_MISMATCH
    if _main_towns_differ(m, p, story_main):
        return min(evidence, 1.0) + TOWN_MISMATCH
    return evidence


#: Two towns of one region this far apart are two places (Zhanaozen and Shetpe, 150 km),
#: nearer ones one area (a city and its suburbs).
TOWN_DISTANCE_KM = 25.0
#: A report about another town of the story's region than the story's own, which names the
#: story's town only in passing, is most likely another event (a clash in Shetpe the day
#: after Zhanaozen).
TOWN_MISMATCH = -1.5
#: ... "in passing": less than this share of the report's place weight.
MINOR_TOWN_SHARE = 0.3


def _main_towns_differ(m: Member, p: Profile, story_main: str | None, passing: bool = True) -> bool:
    """True when the article is about another town of the story's region, 25 km or more
    away, and the story does not name the article's town much. With `passing`, the article
    must also name the story's town only in passing; without it (the article states another
    day than the story's), naming the story's town as often as its own is not enough: "a day
    after the shooting in Kandyagash" tells of the earlier event, not of this one."""
    mine = place_info(m.main_place) if m.main_place else None
    theirs = place_info(story_main) if story_main else None
    if mine is None or theirs is None or mine.id == theirs.id:
        return False
    if mine.kind in ("region", "country") or theirs.kind in ("region", "country"):
        return False
    if m.main_place in p.main_places and p.main_places[m.main_place] * 2 >= p.size:
        return False
    if _km(mine, theirs) < TOWN_DISTANCE_KM:
        return False
    share_mine = _norm(_specific(m.place_weights)).get(theirs.id, 0.0)
    share_theirs = _norm(_specific(dict(p.places))).get(mine.id, 0.0)
    limit = MINOR_TOWN_SHARE if passing else MAJOR_REGION_SHARE
    return share_mine < limit and share_theirs < MINOR_REGION_SHARE


def _km(a: PlaceInfo, b: PlaceInfo) -> float:
    if None in (a.lat, a.lon, b.lat, b.lon):
        return math.inf
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))  # type: ignore[arg-type]
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _main_regions_differ(m: Member, p: Profile) -> bool:
    """True when the article is about another region than the story, and neither names the
    other's region much (a background mention of Zhanaozen in an Almaty report is not enough).
    """
    mine = _region_of(m.main_place)
    theirs = {_region_of(ref) for ref in p.main_places} - {None}
    if not mine or not theirs or mine in theirs:
        return False
    article_regions = _regions(m.region_weights)
    story_regions = _regions(dict(p.regions))
    story_main = max(theirs, key=lambda r: (story_regions.get(r, 0.0), r))
    return (
        story_regions.get(mine, 0.0) < MINOR_REGION_SHARE
        and article_regions.get(story_main, 0.0) < MAJOR_REGION_SHARE
    )


def _region_of(ref: str | None) -> str | None:
    """The region of a place for the mismatch test; a city of republican significance counts
    as its surrounding region ("near Almaty" and "in Almaty region" are one area)."""
    info = place_info(ref) if ref else None
    if info is None:
        return None
    region = region_family(info.admin1 or info.id)
    return SURROUNDING.get(region, region)


def _families(weights: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for ref, weight in weights.items():
        key = region_family(ref)
        out[key] = out.get(key, 0.0) + weight
    return out


def _regions(weights: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for ref, weight in _norm(weights).items():
        key = SURROUNDING.get(region_family(ref), region_family(ref))
        out[key] = out.get(key, 0.0) + weight
    return out


def type_score(m: Member, p: Profile) -> float:
    """Evidence from incident types (shared types for, unrelated families against)."""
    mine, theirs = set(m.types), set(p.types)
    if not mine or not theirs:
        return 0.0
    shared = len(mine & theirs) / len(mine | theirs)
    if not shared and not ({FAMILIES[t] for t in mine} & {FAMILIES[t] for t in theirs}):
        # arrests or a court days after an attack, naming its day, are its follow-up
        return 0.0 if _names_story_day(m, p) else -1.0
    return min(1.0, 2.0 * shared)


def actor_score(m: Member, p: Profile) -> float:
    """Shared groups and people (security bodies are too common to count)."""
    shared = [a for a, kind in m.actors.items() if kind != "organization" and a in p.actors]
    return min(1.0, 0.5 * len(shared))


def number_score(m: Member, story: Story) -> float:
    """The same death toll in another report."""
    mine = m.count("fatalities")
    if mine is None or mine.high < 2 or mine.low != mine.high:
        return 0.0  # one death or "dozens" match too many stories to tell
    for other in story.members:
        theirs = other.count("fatalities")
        if theirs is not None and theirs.high == mine.high:
            return 0.5
    return 0.0


def lexical_score(m: Member, story: Story) -> float:
    """Title/lead overlap with the most similar report in the same language."""
    mine = set(m.terms)
    if not mine:
        return 0.0
    best = 0.0
    for other in story.members:
        if other.language != m.language or not other.terms:
            continue
        theirs = set(other.terms)
        best = max(best, len(mine & theirs) / min(len(mine), len(theirs)))
    return 3.0 * best if best >= 0.25 else 0.0


#: Evidence per shared name key (a name the taxonomy does not hold: Rybakina, Masanchi) and
#: per shared distinctive number (192 injured), up to NAME_CAP: two shared names weigh about
#: as much as a same-language lead overlap of two thirds.
NAME_WEIGHT = 1.0
NUMBER_WEIGHT = 0.5
NAME_CAP = 2.5


def name_score(m: Member, story: Story) -> float:
    """Names and figures shared with the most similar report, in any language."""
    mine = set(m.names)
    if not mine:
        return 0.0
    best = 0.0
    for other in story.members:
        shared = mine.intersection(other.names)
        if not shared:
            continue
        numbers = sum(1 for k in shared if k.startswith("#"))
        value = NAME_WEIGHT * (len(shared) - numbers) + NUMBER_WEIGHT * numbers
        best = max(best, value)
    return min(NAME_CAP, best)


def wording_score(m: Member, story: Story) -> float:
    """Same-language title/lead overlap, or shared names and figures in any language."""
    return max(lexical_score(m, story), name_score(m, story))


def is_copy(m: Member, story: Story) -> bool:
    """True when the article is a syndicated copy of one of the story's reports."""
    if m.content_hash and m.content_hash in story.profile.hashes:
        return True
    return any(
        o.sketch and m.sketch and sketch_similarity(m.sketch, o.sketch) >= COPY_SIMILARITY
        for o in story.members
    )


def _time_penalty(m: Member, p: Profile, date_evidence: float) -> float:
    if date_evidence >= 1.5 or _names_story_day(m, p):
        return 0.0
    lo, hi = p.pub_span
    days = _distance(m.pub_day, (lo, hi))
    return -DECAY_PER_DAY * days


def score(m: Member, story: Story) -> float:
    """How well a member fits a story (VETO, a finite sum, or SAME for a copy)."""
    if is_copy(m, story):
        return SAME
    p = story.profile
    total = 0.0
    dated, placed = date_score(m, p), place_score(m, p)
    if VETO in (dated, placed):
        return VETO
    if _another_town_another_day(m, p):
        dated = min(dated, 0.0)
        placed = min(placed, 1.0) + TOWN_MISMATCH if placed > TOWN_MISMATCH else placed
    total += dated + placed
    wording = wording_score(m, story)
    total += type_score(m, p) + actor_score(m, p) + number_score(m, story)
    total += wording + _time_penalty(m, p, dated)
    # Non-security stories have no incident evidence: without shared wording or names they
    # join only on the same town or site and the same day.
    wordless = not m.types and not p.types and wording == 0.0 and actor_score(m, p) < 1.0
    if wordless and (dated < 1.0 or place_score(m, p) < 2.0):
        total = min(total, JOIN_SCORE - 0.5)
    return total


def _another_town_another_day(m: Member, p: Profile) -> bool:
    """A report of another town of the region on another stated day than the story's: the
    one-day tolerance of stated dates (night events, time zones) does not apply."""
    if not (m.event_stated and m.event_precision == "day" and p.event_span is not None):
        return False
    story_main = max(p.main_places, key=lambda r: (p.main_places[r], r)) if p.main_places else None
    return _distance(m.event_date, p.event_span) >= 1 and _main_towns_differ(
        m, p, story_main, passing=False
    )


def compatible(a: Story, b: Story) -> bool:
    """True when two stories could be one (no date or place veto between their founders)."""
    for m in (a.members[0], b.members[0]):
        other = b if m in a.members else a
        if date_score(m, other.profile) == VETO or place_score(m, other.profile) == VETO:
            return False
    return True
