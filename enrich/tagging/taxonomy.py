"""Load the versioned taxonomy data files (``taxonomy/*.yaml``) and expand their aliases.

Alias syntax (one string per alias, in ``aliases: {en: [...], ru: [...], kk: [...]}``):

- ``?Oral`` — ambiguous: only tagged when written with a capital letter (not just because it
  starts a sentence) and a context cue (``meta.yaml: cues``), a Kazakhstan mention or an
  unambiguous taxonomy entity is near (see ``matcher``).
- ``^Астана`` — only tagged when written with a capital letter (Kazakh "астана" = "capital").
- ``тыйым салын*`` — a final ``*`` accepts any continuation of the last token (Kazakh verb
  forms: салынған, салынды), except a Kazakh negative infix (салынбаған).
- ``Исламск{ое|ого|ому|им|ом} государств~`` — ``{a|b}`` expands to alternatives (for inflected
  words inside a phrase); a final ``~`` marks a stem that takes the inflection suffixes of
  ``meta.yaml: suffixes``. A final Cyrillic token of ``min_stem_len`` letters or more takes them
  without ``~`` (Russian and Kazakh inflect by suffix: Жанаозене, Ақтөбеде, облысында).
- ``шымкента=`` — a final ``=`` marks an exact form: no inflection suffixes (the gazetteer's
  generated case forms, ``gazetteer.json``).
- Places with generated case forms (every Kazakhstan place: ``gazetteer.json: forms``) take
  no automatic stem: their Russian and Kazakh forms come from the build (pymorphy3,
  qazaq-inflector); an explicit ``~`` still works.
- Regions also list ``region_names``; each is combined with the admin words of its language
  ("Aktobe" + "region|oblast|province|oblys", "актюбинской" + "области", "Ақтөбе" + "облысы").
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from enrich.tagging.normalize import is_cyrillic, normalise

LOGGER = logging.getLogger(__name__)

TAXONOMY_DIR = Path(__file__).resolve().parent / "taxonomy"
GAZETTEER_FILE = TAXONOMY_DIR / "gazetteer.json"
# The cities of republican significance: their own admin1.
REPUBLICAN_CITIES = ("place:astana", "place:almaty", "place:shymkent")
LANGUAGES = ("en", "ru", "kk")
INCIDENT_TYPES = (
    "bombing",
    "suicide_attack",
    "armed_attack",
    "killing",
    "hostage_taking",
    "arrest",
    "counter_terrorism_operation",
    "prison_incident",
    "protest",
    "riot",
    "state_of_emergency",
    "threat",
    "trial",
    "ban",
    "radicalization",
)
_BRACE_RE = re.compile(r"\{([^{}]*)\}")

EntityType = Literal["place", "group", "person", "organization"]
Aliases = dict[str, list[str]]


class Geo(BaseModel):
    """Coordinates of a place (WGS 84)."""

    lat: float
    lon: float


class Entity(BaseModel):
    """One taxonomy entry: a place, group, person or organisation."""

    id: str = Field(pattern=r"^(place|group|person|org):[a-z0-9-]+$")
    name: str
    type: EntityType
    kind: str = ""
    country: str = ""
    parent: str | None = None
    geo: Geo | None = None
    # Kazakhstan places: the id of the region entry (a region and each city of republican
    # significance is its own admin1); derived from ``parent`` for curated places, from the
    # GeoNames admin1 code for gazetteer places. None outside Kazakhstan.
    admin1: str | None = None
    population: int | None = None
    geonameid: int | None = None
    source: Literal["curated", "geonames"] = "curated"
    # Generated case forms (``gazetteer.json: forms``), alias strings ending in "=".
    forms: list[str] = Field(default_factory=list)
    banned_kz: bool = False
    # Generic names ("Interior Ministry", "National Guard") that are Kazakhstan's body only
    # when the article concerns Kazakhstan: kept only if Kazakhstan or a Kazakh place or
    # person is mentioned too.
    kz_context: bool = False
    # Organisations: their weight as security evidence in the relevance reading (context.py).
    security_weight: float = 1.0
    aliases: Aliases = Field(default_factory=dict)
    region_names: Aliases = Field(default_factory=dict)


class Incident(BaseModel):
    """An incident type of the fixed vocabulary with its trigger terms."""

    id: str
    weight: float = Field(ge=0, description="security weight in the relevance score")
    # Security evidence wherever found (context.py); by default the violent types are
    # (weight >= context.VIOLENT_WEIGHT) and lighter ones are soft evidence.
    security_evidence: bool | None = None
    triggers: Aliases


class Meta(BaseModel):
    """``meta.yaml``: version and the tuning of normalisation, matching and context."""

    version: str
    min_stem_len: int
    suffixes: dict[str, list[str]]
    admin_words: Aliases
    negators_before: list[str]
    negators_after: list[str]
    kk_negative_infixes: list[str]
    negation_window: int
    context_window: int
    cues: Aliases
    blockers: Aliases
    # Region lists under one plural admin word ("Aktobe and Atyrau regions"): the admin words
    # that close such a list and the words that join its names (``enrich.tagging.regions``).
    plural_admin_words: Aliases = Field(default_factory=dict)
    list_conjunctions: Aliases = Field(default_factory=dict)


class NotLocation(BaseModel):
    """``relevance.yaml: not_location``: words around a country word that make it no location."""

    before: Aliases = Field(default_factory=dict)
    after: Aliases = Field(default_factory=dict)
    located_endings: list[str] = Field(default_factory=list)
    endings: list[str] = Field(default_factory=list)
    nominative_endings: list[str] = Field(default_factory=list)


class Relevance(BaseModel):
    """``relevance.yaml``: the weights of the scored relevance rule and its term lists."""

    kz_terms: Aliases
    security_terms: Aliases
    weights: dict[str, float]
    caps: dict[str, int]
    threshold: float
    share_floor: float
    kz_country: str = "KZ"
    # Context words by kind of story (sport, economy, culture, accident, politics, crime,
    # history, war, actor).
    domains: dict[str, Aliases] = Field(default_factory=dict)
    # Years (first, last) counted as ``history`` context words.
    history_years: tuple[int, int] | None = None
    # Words of other countries by ISO code (demonyms, unlisted countries and cities, leaders):
    # where a sentence happens, for the relevance model; never tags.
    foreign_terms: dict[str, Aliases] = Field(default_factory=dict)
    # Country words that do not locate an event (a border's other side, where someone came from).
    not_location: NotLocation = Field(default_factory=lambda: NotLocation())


@dataclass(frozen=True)
class Pattern:
    """One expanded alias: what the automaton stores under a normalised key."""

    kind: str  # entity | incident | kz_term | security_term | domain | foreign_term | block
    ref: str  # entity id, incident id, or the term itself
    ambiguous: bool = False
    stem: bool = False
    capital: bool = False
    prefix: bool = False
    # A sure entity: confirms an ambiguous alias nearby (not GeoNames places: one village name
    # does not vouch for another).
    anchor: bool = True


@dataclass
class Taxonomy:
    """Everything loaded from the data files."""

    meta: Meta
    relevance: Relevance
    entities: dict[str, Entity]
    incidents: dict[str, Incident]

    @property
    def version(self) -> str:
        """The taxonomy version string (``meta.yaml: version``)."""
        return self.meta.version


def _read(name: str) -> object:
    with (TAXONOMY_DIR / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@cache
def load_taxonomy(gazetteer: bool = True) -> Taxonomy:
    """Read and validate every taxonomy data file (cached).

    ``gazetteer=False`` gives the hand-curated taxonomy alone (what the gazetteer build reads).
    """
    meta = Meta.model_validate(_read("meta.yaml"))
    relevance = Relevance.model_validate(_read("relevance.yaml"))
    entities: dict[str, Entity] = {}
    for name, etype in (
        ("places.yaml", "place"),
        ("groups.yaml", "group"),
        ("people.yaml", "person"),
        ("organizations.yaml", "organization"),
    ):
        for raw in _read(name):
            entity = Entity.model_validate({**raw, "type": etype})
            if entity.id in entities:
                raise ValueError(f"duplicate taxonomy id {entity.id}")
            entities[entity.id] = entity
    if gazetteer:
        _add_gazetteer(entities)
    _set_admin1(entities)
    incidents = {}
    for raw in _read("incidents.yaml"):
        incident = Incident.model_validate(raw)
        incidents[incident.id] = incident
    if tuple(incidents) != INCIDENT_TYPES:
        raise ValueError(f"incidents.yaml must list exactly {INCIDENT_TYPES} in that order")
    return Taxonomy(meta=meta, relevance=relevance, entities=entities, incidents=incidents)


def _add_gazetteer(entities: dict[str, Entity]) -> None:
    """Add ``gazetteer.json``: the GeoNames places and the generated forms of every place."""
    if not GAZETTEER_FILE.exists():
        LOGGER.warning("no %s: tagging with the curated places only", GAZETTEER_FILE.name)
        return
    data = json.loads(GAZETTEER_FILE.read_text(encoding="utf-8"))
    for raw in data["places"]:
        entity = Entity.model_validate({**raw, "type": "place", "source": "geonames"})
        if entity.id in entities:
            raise ValueError(f"gazetteer id {entity.id} is also curated")
        entities[entity.id] = entity
    for ref, forms in data["forms"].items():
        if ref in entities:
            entities[ref].forms = list(forms)


def _set_admin1(entities: dict[str, Entity]) -> None:
    """Derive ``admin1`` of curated Kazakhstan places from ``parent``; check every one has it."""
    for entity in entities.values():
        if entity.type != "place" or entity.country != "KZ" or entity.admin1:
            continue
        entity.admin1 = _region_of(entity, entities)
    for entity in entities.values():
        if entity.type == "place" and entity.country == "KZ":
            region = entities.get(entity.admin1 or "")
            if region is None or not (region.kind == "region" or region.id in REPUBLICAN_CITIES):
                raise ValueError(f"{entity.id}: admin1 {entity.admin1!r} is not a region entry")


def _region_of(entity: Entity, entities: dict[str, Entity]) -> str | None:
    seen: set[str] = set()
    current: Entity | None = entity
    while current is not None and current.id not in seen:
        if current.kind == "region" or current.id in REPUBLICAN_CITIES:
            return current.id
        seen.add(current.id)
        current = entities.get(current.parent or "")
    return None


def expand_braces(alias: str) -> list[str]:
    """``"a{b|c}d"`` → ``["abd", "acd"]`` (every combination of every brace group)."""
    parts = _BRACE_RE.split(alias)
    literals, choices = parts[0::2], [group.split("|") for group in parts[1::2]]
    out = []
    for combo in itertools.product(*choices):
        pieces = [literals[0]]
        for choice, literal in zip(combo, literals[1:], strict=True):
            pieces += [choice, literal]
        out.append("".join(pieces))
    return out


def expand_alias(
    alias: str, min_stem_len: int, *, auto_stem: bool = True
) -> list[tuple[str, dict]]:
    """Expand one alias string to ``(key, flags)`` pairs (flags: the ``Pattern`` booleans).

    ``key`` is the normalised token string with a leading space (the automaton key).
    ``auto_stem=False``: a Cyrillic final token takes suffixes only with an explicit ``~``.
    """
    ambiguous, capital = alias.startswith("?"), alias.startswith("^")
    alias = alias.lstrip("?^")
    out = []
    for variant in expand_braces(alias):
        prefix = variant.endswith("*")
        explicit_stem = variant.endswith("~")
        exact = variant.endswith("=")
        # Not collapsed: "St. Petersburg" keeps its two spaces and matches the text as written.
        key = normalise(variant.rstrip("~*=")).strip()
        if not key:
            continue
        last = key.split()[-1]
        implicit = auto_stem and not exact and is_cyrillic(last) and len(last) >= min_stem_len
        stem = prefix or explicit_stem or implicit
        flags = {
            "ambiguous": ambiguous,
            "capital": capital or ambiguous,
            "stem": stem,
            "prefix": prefix,
        }
        out.append((" " + key, flags))
    return out


def _region_aliases(entity: Entity, meta: Meta) -> list[str]:
    out = []
    for lang, names in entity.region_names.items():
        out += [f"{name} {admin}" for name in names for admin in meta.admin_words.get(lang, [])]
    return out


def iter_patterns(taxonomy: Taxonomy) -> list[tuple[str, Pattern]]:
    """Every ``(key, Pattern)`` the automaton holds, expanded from the data files."""
    meta = taxonomy.meta
    raw: list[tuple[str, str, str, bool]] = []  # (alias, kind, ref, auto_stem)
    weak = {e.id for e in taxonomy.entities.values() if e.source == "geonames"}
    for entity in taxonomy.entities.values():
        aliases = [a for lang in entity.aliases.values() for a in lang]
        aliases += _region_aliases(entity, meta)
        auto = not entity.forms
        raw += [(alias, "entity", entity.id, auto) for alias in aliases]
        raw += [(form, "entity", entity.id, False) for form in entity.forms]
    for incident in taxonomy.incidents.values():
        triggers = incident.triggers.values()
        raw += [(t, "incident", incident.id, True) for lang in triggers for t in lang]
    rel = taxonomy.relevance
    raw += [(t, "kz_term", "kz", True) for lang in rel.kz_terms.values() for t in lang]
    raw += [(t, "security_term", "sec", True) for lang in rel.security_terms.values() for t in lang]
    raw += [(t, "block", "block", True) for lang in meta.blockers.values() for t in lang]
    for domain, terms in rel.domains.items():
        raw += [(t, "domain", domain, True) for lang in terms.values() for t in lang]
    if rel.history_years:
        first, last = rel.history_years
        raw += [(str(year), "domain", "history", False) for year in range(first, last + 1)]
    for country, terms in rel.foreign_terms.items():
        raw += [(t, "foreign_term", country, True) for lang in terms.values() for t in lang]
    out = []
    for alias, kind, ref, auto in raw:
        for key, flags in expand_alias(alias, meta.min_stem_len, auto_stem=auto):
            anchor = not flags["ambiguous"] and ref not in weak
            out.append((key, Pattern(kind=kind, ref=ref, anchor=anchor, **flags)))
    return out


def suffix_set(meta: Meta) -> frozenset[str]:
    """All inflection suffixes a stem may take: Russian endings and Kazakh suffix chains.

    Kazakh stacks plural + possessive + case (облыс·ы·нда, қала·лар·ы·на); the set holds every
    chain of one choice per slot, so checking a suffix is one set lookup.
    """
    chains = [""]
    for slot in ("kk_plural", "kk_possessive", "kk_case"):
        chains = [head + tail for head in chains for tail in ["", *meta.suffixes[slot]]]
    return frozenset(chains) | frozenset(meta.suffixes["ru"]) | frozenset({""})
