"""What clustering and incident records use of one article: its features.

`article_features(record)` takes an article record (docs/records.md §2 or an indexed
document) and returns `Features`: the language-independent signals (place, region, actor
and incident-type ids of the taxonomy, the event date, casualty numbers) and the
same-language ones (title/lead terms, text shingles for syndicated copies). A record without
``entities`` is tagged first with the project's tagger.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from dateutil import parser as dateparser

from kzmon.stories import dates, numbers
from kzmon.stories.regions import KZ, admin1_of, country_of, place_info

LOGGER = logging.getLogger(__name__)

STOPWORDS_FILE = Path(__file__).resolve().parent / "stopwords.yaml"
#: Characters of text after the title that form the "lead" compared within a language.
LEAD_CHARS = 400
#: Terms are cut to this many letters: a crude stem that joins Russian/Kazakh inflections
#: (Актюбинской / Актюбинская) and English plurals without a morphology library.
STEM_LETTERS = 6
#: Entity offsets before this character count as "in the lead" (more weight for location).
LEAD_OFFSET = 400
#: Fallback publication time when a record has none (deterministic, far from real news).
NO_DATE = datetime(1970, 1, 1, tzinfo=UTC)

_WORD = re.compile(r"[^\W\d_]{4,}")
_SHINGLE_WORD = re.compile(r"\w+")


@dataclass
class Features:
    """The signals of one article (see the module docstring)."""

    doc_id: str
    url: str
    outlet: str
    language: str
    title: str
    published: datetime
    pub_day: date
    event: dates.EventDate
    place_weights: dict[str, float]  # every tagged place (KZ and foreign)
    region_weights: dict[str, float]  # admin1 ids of KZ places
    countries: dict[str, float]
    main_place: str | None
    actors: dict[str, str]  # id -> type (group, organization, person)
    actor_names: dict[str, str]
    types: frozenset[str]
    relevant: bool
    relevance: float
    counts: dict[str, numbers.Count | None]
    terms: frozenset[str]
    shingles: frozenset[int]
    content_hash: str
    stated_days: frozenset[date] = field(default_factory=frozenset)


def doc_id_for(url: str) -> str:
    """The indexer's document id: sha256 hex of the canonical URL."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


@cache
def _stopwords() -> frozenset[str]:
    data = yaml.safe_load(STOPWORDS_FILE.read_text(encoding="utf-8"))
    return frozenset(w for words in data.values() for w in words)


def parse_time(value: Any) -> datetime | None:
    """A timezone-aware datetime from ISO text (naive values are taken as UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = dateparser.isoparse(value.strip())
        except (ValueError, OverflowError):
            try:
                moment = dateparser.parse(value.strip())
            except (ValueError, OverflowError, dateparser.ParserError):
                return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def terms(title: str, text: str) -> frozenset[str]:
    """Stemmed content words of the title and lead (for same-language similarity)."""
    lead = f"{title} {text[:LEAD_CHARS]}".lower()
    stop = _stopwords()
    return frozenset(w[:STEM_LETTERS] for w in _WORD.findall(lead) if w not in stop)


def shingles(text: str, size: int = 5) -> frozenset[int]:
    """Hashes of word 5-grams (empty under 20 words): the alerts' syndication test."""
    from kzmon.alerts.grouping import shingles as alert_shingles

    return alert_shingles(text, size)


def _language(record: dict[str, Any]) -> str:
    language = record.get("language")
    if isinstance(language, str) and language:
        return language
    from enrich.extract.language import detect_language

    sample = f"{record.get('title') or ''}\n{record.get('text') or ''}"
    return detect_language(sample) or "en"


def ensure_tags(record: dict[str, Any]) -> dict[str, Any]:
    """The record with the project's tags (tagged now when ``entities`` is absent)."""
    if isinstance(record.get("entities"), list):
        return record
    from enrich.tagging import get_tagger

    return {**record, **get_tagger().tag(record)}


def _title_refs(title: str) -> frozenset[str]:
    if not title:
        return frozenset()
    from enrich.tagging import get_tagger

    return frozenset(get_tagger().matcher.scan(title).mentions)


def _entity_weight(entity: dict[str, Any], in_title: bool) -> float:
    mentions = entity.get("mentions")
    count = min(float(mentions), 5.0) if isinstance(mentions, int | float) and mentions else 1.0
    offset = entity.get("first_offset")
    early = isinstance(offset, int) and 0 <= offset < LEAD_OFFSET
    return count + (3.0 if in_title else 0.0) + (1.5 if early else 0.0)


def _places(
    entities: list[dict[str, Any]], title_refs: frozenset[str]
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    places: dict[str, float] = {}
    regions: dict[str, float] = {}
    countries: dict[str, float] = {}
    for entity in entities:
        if entity.get("type") != "place" or not entity.get("id"):
            continue
        ref = str(entity["id"])
        weight = _entity_weight(entity, ref in title_refs)
        places[ref] = places.get(ref, 0.0) + weight
        country = country_of(ref)
        if country:
            countries[country] = countries.get(country, 0.0) + weight
        region = admin1_of(entity)
        if region:
            regions[region] = regions.get(region, 0.0) + weight
    return places, regions, countries


def main_place(place_weights: dict[str, float]) -> str | None:
    """The place an article is about: the weightiest Kazakh place, a town before its region."""
    kz = {ref: w for ref, w in place_weights.items() if country_of(ref) == KZ}
    pool = kz or place_weights
    if not pool:
        return None
    ranked = sorted(pool.items(), key=lambda item: (-item[1], item[0]))
    top_ref, top_weight = ranked[0]
    info = place_info(top_ref)
    if info and info.kind == "region":
        for ref, weight in ranked[1:]:
            other = place_info(ref)
            is_town = other is not None and other.kind != "region" and other.admin1 == top_ref
            if is_town and weight >= 0.5 * top_weight:
                return ref
    return top_ref


def _actors(entities: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    kinds: dict[str, str] = {}
    names: dict[str, str] = {}
    for entity in entities:
        etype = entity.get("type")
        if etype in ("group", "organization", "person") and entity.get("id"):
            kinds[str(entity["id"])] = str(etype)
            names[str(entity["id"])] = str(entity.get("name") or entity["id"])
    return kinds, names


def article_features(record: dict[str, Any]) -> Features:
    """The features of one article record (tagging it first when it has no ``entities``)."""
    record = ensure_tags(record)
    title = str(record.get("title") or "")
    text = str(record.get("text") or "")
    url = str(record.get("canonical_url") or record.get("url") or "")
    published = parse_time(record.get("published_at")) or parse_time(record.get("fetched_at"))
    published = published or NO_DATE
    event, mentions = dates.event_date(title, text, published)
    language = _language(record)
    entities = [e for e in record.get("entities") or [] if isinstance(e, dict)]
    places, regions, countries = _places(entities, _title_refs(title))
    actors, actor_names = _actors(entities)
    security = record.get("kz_security") or {}
    relevant = record.get("relevant", security.get("relevant"))
    score = record.get("relevance_score", security.get("score"))
    year = event.value.year if event.stated else dates.local_date(published).year
    return Features(
        doc_id=str(record.get("doc_id") or doc_id_for(url)),
        url=url,
        outlet=str(record.get("outlet") or ""),
        language=language,
        title=title,
        published=published,
        pub_day=dates.local_date(published),
        event=event,
        place_weights=places,
        region_weights=regions,
        countries=countries,
        main_place=main_place(places),
        actors=actors,
        actor_names=actor_names,
        types=frozenset(str(t) for t in record.get("incident_types") or []),
        relevant=bool(relevant),
        relevance=float(score) if isinstance(score, int | float) else 0.0,
        counts=numbers.article_counts(
            title, text, year, language, _background_test(main_place(places))
        ),
        terms=terms(title, text),
        shingles=shingles(text),
        content_hash=str(record.get("content_hash") or _text_hash(text)),
        stated_days=frozenset(m.value for m in mentions if m.precision == "day"),
    )


def _background_test(main: str | None) -> Callable[[str], bool] | None:
    """A test for sentences about another region than the article's main place ("six weeks
    after attacks in Aktobe in which 25 people were killed", in a report from Almaty)."""
    info = place_info(main) if main else None
    if info is None or info.country != KZ:
        return None
    home = info.admin1 or info.id
    from enrich.tagging import get_tagger

    matcher = get_tagger().matcher

    def is_background(sentence: str) -> bool:
        regions = set()
        for ref in matcher.scan(sentence).mentions:
            other = place_info(ref)
            if other is not None and other.country == KZ:
                regions.add(other.admin1 or other.id)
        return bool(regions) and home not in regions

    return is_background


def _text_hash(text: str) -> str:
    normalised = " ".join(_SHINGLE_WORD.findall(text.casefold()))
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest() if normalised else ""
