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

from kzmon.stories import dates, names, numbers
from kzmon.stories.regions import KZ, admin1_of, country_of, place_info, region_family

LOGGER = logging.getLogger(__name__)

STOPWORDS_FILE = Path(__file__).resolve().parent / "stopwords.yaml"
CONTEXT_FILE = Path(__file__).resolve().parent / "context.yaml"
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
    names: tuple[str, ...] = ()  # script-independent name and number keys (names.py)
    hazard: bool = False  # an accident, disaster or epidemic in the title or first sentence


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


#: Weight of one place mention by where it stands: the title, the first sentence (the
#: lede names where it happened), the second, any later one. Set on the labelled and dev
#: sets (tests/stories/), kept round.
TITLE_WEIGHT = 3.0
SENTENCE_WEIGHTS = (2.0, 1.2, 0.8)
LATER_WEIGHT = 0.5
#: The first place below country level in the title, else in the first sentence.
LEDE_BONUS = 1.5
#: A mention in a background sentence ("Two days earlier ... in Aktau") counts this much.
BACKGROUND_FACTOR = 0.25
#: One place's weight stops growing here (a town named ten times is not ten times the place).
MAX_PLACE_WEIGHT = 8.0
#: A sentence naming a date this many days from the article's event date is about something
#: else (a trial months later naming the attack's day; an earlier arrest).
BACKGROUND_DATE_DAYS = 4


@dataclass
class Sentences:
    """An article cut into sentences (the title first), with the background ones marked."""

    texts: list[str]
    starts: list[int]  # offset of each text sentence in the text (-1 for the title)
    background: list[bool]
    _found: list[dict[str, list[int]]] | None = None

    def places(self) -> list[dict[str, list[int]]]:
        """The taxonomy's mentions in each sentence (``id -> positions``), scanned once."""
        if self._found is None:
            from enrich.tagging import get_tagger

            matcher = get_tagger().matcher
            self._found = [matcher.scan(t).positions if t else {} for t in self.texts]
        return self._found

    def found_in(self, sentence: str) -> dict[str, list[int]]:
        """The mentions of one of the sentences (scanned now if it is not one of them)."""
        for text, found in zip(self.texts, self.places(), strict=True):
            if text == sentence:
                return found
        from enrich.tagging import get_tagger

        return get_tagger().matcher.scan(sentence).positions


def split_sentences(title: str, text: str) -> tuple[list[str], list[int]]:
    """The title and the text's sentences, with the offset of each in the text."""
    texts, starts = [title], [-1]
    position = 0
    for piece in numbers._SENTENCE.split(text or ""):
        if not piece:
            continue
        found = text.find(piece, position)
        starts.append(found if found >= 0 else position)
        texts.append(piece)
        position = max(position, found + len(piece)) if found >= 0 else position
    return texts, starts


@cache
def _context() -> dict:
    return yaml.safe_load(CONTEXT_FILE.read_text(encoding="utf-8"))


@cache
def _cue_pattern(section: str) -> re.Pattern[str]:
    words = [w for ws in _context()[section].values() for w in ws]
    parts = [
        re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w) + r"(?!\w)"
        for w in sorted(words, key=len, reverse=True)
    ]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + ")", re.IGNORECASE)


def sentences_of(
    title: str, text: str, event: dates.EventDate, mentions: list[dates.DateMention]
) -> Sentences:
    """The sentences of an article and which are background: a cue ("earlier", "ранее",
    "бұған дейін"), or a date far from the article's event date (the title never is)."""
    texts, starts = split_sentences(title, text)
    cues = _cue_pattern("background_cues")
    openers = _cue_pattern("background_openers")
    ends = [starts[i + 1] if i + 1 < len(starts) else len(text) for i in range(len(starts))]
    background = [False]
    offset_base = len(title) + 1  # mentions count offsets in "title\ntext"
    lo, hi = dates.span_of(event.value, event.precision)
    for i in range(1, len(texts)):
        far = any(
            starts[i] <= m.offset - offset_base < ends[i] and _far(m, lo, hi)
            for m in mentions
            if event.stated
        )
        opener = openers.match(texts[i].lstrip())
        background.append(far or bool(cues.search(texts[i])) or bool(opener))
    return Sentences(texts, starts, background)


def _far(mention: dates.DateMention, lo: date, hi: date) -> bool:
    m_lo, m_hi = dates.span_of(mention.value, mention.precision)
    gap = max((lo - m_hi).days, (m_lo - hi).days, 0)
    return gap >= BACKGROUND_DATE_DAYS


def _sentence_weight(index: int) -> float:
    if index == 0:
        return TITLE_WEIGHT
    if index - 1 < len(SENTENCE_WEIGHTS):
        return SENTENCE_WEIGHTS[index - 1]
    return LATER_WEIGHT


def _place_mentions(sentences: Sentences, accepted: set[str]) -> list[tuple[int, int, str]]:
    """(sentence index, position, place id) of every mention of an accepted place."""
    out = []
    for index, found in enumerate(sentences.places()):
        for ref in accepted.intersection(found):
            out += [(index, pos, ref) for pos in found[ref]]
    return sorted(out)


def _places(
    entities: list[dict[str, Any]], sentences: Sentences
) -> tuple[dict[str, float], dict[str, float], dict[str, float], str | None]:
    """Place, region and country weights, and the lede place (see the weights above)."""
    by_ref = {str(e["id"]): e for e in entities if e.get("type") == "place" and e.get("id")}
    places: dict[str, float] = {}
    lede: str | None = None
    for index, _, ref in _place_mentions(sentences, set(by_ref)):
        weight = _sentence_weight(index)
        if sentences.background[index]:
            weight *= BACKGROUND_FACTOR
        places[ref] = min(MAX_PLACE_WEIGHT, places.get(ref, 0.0) + weight)
        info = place_info(ref)
        if lede is None and index <= 1 and (info is None or info.kind != "country"):
            lede = ref
    for ref in by_ref:  # named by the tagger but not found again (a split sentence)
        places.setdefault(ref, LATER_WEIGHT)
    if lede is not None:
        places[lede] += LEDE_BONUS
    regions: dict[str, float] = {}
    countries: dict[str, float] = {}
    for ref, weight in places.items():
        country = country_of(ref)
        if country:
            countries[country] = countries.get(country, 0.0) + weight
        region = admin1_of(by_ref[ref])
        if region:
            regions[region] = regions.get(region, 0.0) + weight
    return places, regions, countries, lede


def main_place(place_weights: dict[str, float], lede: str | None = None) -> str | None:
    """The place an article is about: the weightiest Kazakh place (a town before its
    region); a foreign place only when it outweighs every Kazakh one (Moscow in a report of
    an attack there that names Kazakhstan's reaction). Ties go to the lede's place."""
    if not place_weights:
        return None
    kz = {ref: w for ref, w in place_weights.items() if country_of(ref) == KZ}
    foreign = {ref: w for ref, w in place_weights.items() if ref not in kz}
    pool = kz or place_weights
    if kz and foreign and max(foreign.values()) > FOREIGN_MARGIN * max(kz.values()):
        pool = place_weights
    ranked = sorted(pool.items(), key=lambda item: (-item[1], item[0] != lede, item[0]))
    top_ref, top_weight = ranked[0]
    info = place_info(top_ref)
    if info and info.kind in ("region", "country"):
        for ref, weight in ranked[1:]:
            other = place_info(ref)
            inside = (
                other is not None
                and other.kind not in ("region", "country")
                and (
                    (other.admin1 and region_family(other.admin1) == region_family(top_ref))
                    or (info.kind == "country" and other.country == info.country)
                )
            )
            if inside and weight >= 0.5 * top_weight:
                return ref
    return top_ref


#: A foreign place is an article's main place only when it weighs this much more than the
#: weightiest Kazakh place (a Kazakh angle on an event abroad stays abroad).
FOREIGN_MARGIN = 1.5


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
    sentences = sentences_of(title, text, event, mentions)
    places, regions, countries, lede = _places(entities, sentences)
    main = main_place(places, lede)
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
        main_place=main,
        actors=actors,
        actor_names=actor_names,
        types=frozenset(str(t) for t in record.get("incident_types") or []),
        relevant=bool(relevant),
        relevance=float(score) if isinstance(score, int | float) else 0.0,
        counts=numbers.article_counts(
            title, text, year, language, _background_test(main, sentences)
        ),
        terms=terms(title, text),
        shingles=shingles(text),
        content_hash=str(record.get("content_hash") or _text_hash(text)),
        stated_days=_named_days(mentions, dates.local_date(published)),
        names=tuple(names.name_keys(title, text) + names.number_keys(f"{title}\n{text}")),
        hazard=_hazard(sentences),
    )


def _named_days(mentions: list[dates.DateMention], published: date) -> frozenset[date]:
    """The explicit days an article names that can still be its story's (up to the analysis
    age before publication): a follow-up "on February 12 ... over the clashes of February
    7-8" names its story's day beside its own."""
    return frozenset(
        m.value
        for m in mentions
        if m.precision == "day"
        and m.explicit
        and 0 <= (published - m.value).days <= dates.ANALYSIS_DAYS
    )


def _hazard(sentences: Sentences) -> bool:
    """An accident, disaster or epidemic named in the title or the first sentence."""
    pattern = _cue_pattern("hazards")
    return any(pattern.search(t) for t in sentences.texts[:2] if t)


def _background_test(main: str | None, sentences: Sentences) -> Callable[[str], bool]:
    """A test for sentences whose numbers are not the event's: background sentences (a cue,
    a far date: "At least 16 people were killed ... on December 16" in a report of the trial
    in June), and sentences about another region than the article's main place ("six weeks
    after attacks in Aktobe in which 25 people were killed", in a report from Almaty)."""
    flagged = {t for t, bg in zip(sentences.texts, sentences.background, strict=True) if bg}
    info = place_info(main) if main else None
    if info is None or info.country != KZ:
        return lambda sentence: sentence in flagged
    home = info.admin1 or info.id

    def is_background(sentence: str) -> bool:
        if sentence in flagged:
            return True
        regions = set()
        for ref in sentences.found_in(sentence):
            other = place_info(ref)
            if other is not None and other.country == KZ:
                regions.add(other.admin1 or other.id)
        return bool(regions) and home not in regions

    return is_background


def _text_hash(text: str) -> str:
    normalised = " ".join(_SHINGLE_WORD.findall(text.casefold()))
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest() if normalised else ""
