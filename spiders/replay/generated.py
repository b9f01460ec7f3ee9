"""A generated replay of any size: ``KZMON_REPLAY_ARTICLES=N`` articles over the registry outlets.

`generate_articles(n)` assembles N `ReplayArticle`s, seeded (the same N gives the same site),
from the text pieces in ``generated.yaml``: everyday stories and a share of security stories,
each security story one report of a generated incident (kind, place, date, casualty figures)
that several outlets report in their own languages with the same facts, plus syndicated copies
(one outlet's text republished by another of the same language). Article ``i`` is the
``i``-th newest; the replay's templates render the pages and its routes the outlets' feeds and
sitemaps, exactly as for the hand-written articles (`spiders.replay.site.load_site`).
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import yaml

from spiders.registry import load_outlets
from spiders.replay.site import ReplayArticle, split_sentences

LOGGER = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PIECES_PATH = HERE / "generated.yaml"
#: The environment variable that switches the replay to a generated one of N articles.
ENV_VAR = "KZMON_REPLAY_ARTICLES"
#: Seed of the generator: one N, one site.
SEED = 15
#: The newest article's publication time; each older one is `STEP` earlier, so 10,000
#: articles span ~49 days (sitemap months and parts, listings and feeds all have content).
NEWEST = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=7)
#: Share of security stories (the real outlets' crime/incident sections run at 20-35 %).
SECURITY_SHARE = 0.3
#: Reports per incident (several outlets and languages report one event).
REPORTS_PER_INCIDENT = 4
#: Share of syndicated copies (another outlet's text of the same language, republished).
SYNDICATED_SHARE = 0.08
#: Articles per sitemap part in a generated replay (real parts hold hundreds to thousands; 50
#: keeps several parts per outlet at 1,000 articles).
PART_SIZE = 50
#: Kazinform's edition path per language.
_EDITION = {"ru": "ru", "kk": "kz", "en": "en"}


def requested_articles() -> int:
    """N from ``KZMON_REPLAY_ARTICLES`` (0 when unset or empty: the default replay)."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return 0
    value = int(raw)
    if value < 0:
        raise ValueError(f"{ENV_VAR} must be >= 0, not {raw!r}")
    return value


@cache
def load_pieces() -> dict:
    """The text pieces of ``generated.yaml``."""
    return yaml.safe_load(PIECES_PATH.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Incident:
    """One generated security incident, reported by several outlets."""

    number: int
    kind: str
    place: dict
    killed: int
    injured: int


@dataclass
class _Slot:
    """What article ``i`` will be, before its text is written."""

    index: int
    outlet: str
    language: str
    published: datetime
    incident: Incident | None = None
    copy_of: int | None = None


def _plan(n: int, rng: random.Random, outlets: list) -> list[_Slot]:
    """Outlet, language, date and role of every article (newest first)."""
    pieces = load_pieces()
    kinds = sorted(pieces["incidents"])
    slots: list[_Slot] = []
    incident: Incident | None = None
    reports = 0
    for i in range(n):
        outlet = outlets[i % len(outlets)]
        language = outlet.languages[(i // len(outlets)) % len(outlet.languages)]
        slot = _Slot(i, outlet.id, language, NEWEST - i * STEP)
        roll = rng.random()
        if roll < SECURITY_SHARE:
            if incident is None or reports >= REPORTS_PER_INCIDENT:
                number = 0 if incident is None else incident.number + 1
                incident = Incident(
                    number,
                    rng.choice(kinds),
                    rng.choice(pieces["places"]),
                    rng.randint(2, 25),
                    rng.randint(3, 60),
                )
                reports = 0
            slot.incident, reports = incident, reports + 1
        elif roll < SECURITY_SHARE + SYNDICATED_SHARE:
            same = [s for s in slots[-40:] if s.language == language and s.outlet != outlet.id]
            if same:
                slot.copy_of = rng.choice(same).index
        slots.append(slot)
    return slots


def _fill(template: str, values: dict) -> str:
    text = template.format(**values)
    return text[:1].upper() + text[1:]


def _date_text(when: datetime, language: str) -> str:
    month = load_pieces()["months"][language][when.month - 1]
    return f"{when.day} {month}"


def _values(slot: _Slot, rng: random.Random, place: dict, when: datetime) -> dict:
    pieces, lang = load_pieces(), slot.language
    inside = {"en": f"in {place['en']}", "ru": place["ru_in"], "kk": place["kk_in"]}[lang]
    return {
        "place": place[lang],
        "place_in": inside,
        "place_in_cap": inside[:1].upper() + inside[1:],
        "date": _date_text(when, lang),
        "official": rng.choice(pieces["officials"][lang]),
        "n": rng.randint(3, 900),
        "pct": rng.randint(2, 15),
        "year": when.year,
    }


def _security_text(slot: _Slot, rng: random.Random, dated: datetime) -> tuple[str, list[str]]:
    incident = slot.incident
    assert incident is not None
    text = load_pieces()["incidents"][incident.kind][slot.language]
    values = _values(slot, rng, incident.place, dated)
    values.update(killed=incident.killed, injured=incident.injured)
    sentences = [_fill(rng.choice(text["lead"]), values)]
    sentences += [_fill(s, values) for s in rng.sample(text["details"], 3)]
    return _fill(rng.choice(text["titles"]), values), [sentences[0], " ".join(sentences[1:])]


def _everyday_text(slot: _Slot, rng: random.Random) -> tuple[str, str, list[str]]:
    topics = load_pieces()["topics"]
    topic = rng.choice(sorted(topics))
    text = topics[topic][slot.language]
    values = _values(slot, rng, rng.choice(load_pieces()["places"]), slot.published)
    chosen = [_fill(s, values) for s in rng.sample(text["sentences"], 4)]
    paragraphs = [" ".join(chosen[:2]), " ".join(chosen[2:])]
    return topics[topic]["slug"], _fill(rng.choice(text["titles"]), values), paragraphs


def _url(slot: _Slot, slug: str) -> str:
    when = slot.published
    return load_pieces()["urls"][slot.outlet].format(
        slug=slug,
        id=700000 + slot.index,
        yyyy=f"{when.year:04d}",
        mm=f"{when.month:02d}",
        dd=f"{when.day:02d}",
        hex=f"{0xA00000 + slot.index:06x}",
        edition=_EDITION[slot.language],
    )


@cache
def _outlet_meta() -> dict[str, list[dict]]:
    """Section/publication/volume/issue of the hand-written articles, per outlet (cycled)."""
    meta: dict[str, list[dict]] = {}
    for name in ("articles.yaml", "articles_kz.yaml"):
        data = yaml.safe_load((HERE / name).read_text(encoding="utf-8"))
        for entry in data["articles"]:
            keys = ("section", "publication", "volume", "issue")
            meta.setdefault(entry["outlet"], []).append({k: entry.get(k) for k in keys})
    return meta


def generate_articles(n: int, seed: int = SEED) -> list[ReplayArticle]:
    """N generated articles over the registry outlets, newest first (deterministic)."""
    rng = random.Random(seed)
    outlets = list(load_outlets())
    slots = _plan(n, rng, outlets)
    first_report: dict[int, datetime] = {}
    for slot in slots:
        if slot.incident is not None:
            first_report[slot.incident.number] = slot.published  # the oldest report wins
    articles: list[ReplayArticle] = []
    words = load_pieces()["slug_words"]
    for slot in slots:
        security = slot.incident is not None
        if slot.copy_of is not None:
            source = articles[slot.copy_of]
            title, paragraphs, security = source.title, list(source.paragraphs), source.security
            slug = f"syndicated-{rng.choice(words)}"
        elif security:
            incident = slot.incident
            title, paragraphs = _security_text(slot, rng, first_report[incident.number])
            kind = load_pieces()["incidents"][incident.kind]["slug"]
            slug = f"{incident.place['slug']}-{kind}-{rng.choice(words)}"
        else:
            topic, title, paragraphs = _everyday_text(slot, rng)
            slug = f"{topic}-{rng.choice(words)}-{rng.choice(words)}"
        meta = _outlet_meta()[slot.outlet]
        chosen = meta[slot.index % len(meta)]
        authors = load_pieces()["authors"][slot.language]
        articles.append(
            ReplayArticle(
                id=f"gen-{slot.index:06d}",
                outlet=slot.outlet,
                url=_url(slot, slug),
                title=title,
                published=slot.published,
                language=slot.language,
                authors=(rng.choice(authors),) if rng.random() < 0.7 else (),
                paragraphs=tuple(paragraphs),
                section=chosen["section"],
                publication=chosen["publication"],
                volume=chosen["volume"],
                issue=chosen["issue"],
                security=security,
                first_sentence=split_sentences(paragraphs[0])[0],
                last_sentence=split_sentences(paragraphs[-1])[-1],
            )
        )
    LOGGER.info("generated %d articles over %d outlets", n, len(outlets))
    return articles
