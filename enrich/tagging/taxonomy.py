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
- Regions also list ``region_names``; each is combined with the admin words of its language
  ("Aktobe" + "region|oblast|province|oblys", "актюбинской" + "области", "Ақтөбе" + "облысы").
"""

from __future__ import annotations

import itertools
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
    banned_kz: bool = False
    # Generic names ("Interior Ministry", "National Guard") that are Kazakhstan's body only
    # when the article concerns Kazakhstan: kept only if Kazakhstan or a Kazakh place or
    # person is mentioned too.
    kz_context: bool = False
    aliases: Aliases = Field(default_factory=dict)
    region_names: Aliases = Field(default_factory=dict)


class Incident(BaseModel):
    """An incident type of the fixed vocabulary with its trigger terms."""

    id: str
    weight: float = Field(ge=0, description="security weight in the relevance score")
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


class Relevance(BaseModel):
    """``relevance.yaml``: the weights of the scored relevance rule and its term lists."""

    kz_terms: Aliases
    security_terms: Aliases
    weights: dict[str, float]
    caps: dict[str, int]
    threshold: float
    share_floor: float
    kz_country: str = "KZ"


@dataclass(frozen=True)
class Pattern:
    """One expanded alias: what the automaton stores under a normalised key."""

    kind: str  # entity | incident | kz_term | security_term | block
    ref: str  # entity id, incident id, or the term itself
    ambiguous: bool = False
    stem: bool = False
    capital: bool = False
    prefix: bool = False


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
def load_taxonomy() -> Taxonomy:
    """Read and validate every taxonomy data file (cached)."""
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
    incidents = {}
    for raw in _read("incidents.yaml"):
        incident = Incident.model_validate(raw)
        incidents[incident.id] = incident
    if tuple(incidents) != INCIDENT_TYPES:
        raise ValueError(f"incidents.yaml must list exactly {INCIDENT_TYPES} in that order")
    return Taxonomy(meta=meta, relevance=relevance, entities=entities, incidents=incidents)


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


def expand_alias(alias: str, min_stem_len: int) -> list[tuple[str, dict]]:
    """Expand one alias string to ``(key, flags)`` pairs (flags: the ``Pattern`` booleans).

    ``key`` is the normalised token string with a leading space (the automaton key).
    """
    ambiguous, capital = alias.startswith("?"), alias.startswith("^")
    alias = alias.lstrip("?^")
    out = []
    for variant in expand_braces(alias):
        prefix = variant.endswith("*")
        explicit_stem = variant.endswith("~")
        # Not collapsed: "St. Petersburg" keeps its two spaces and matches the text as written.
        key = normalise(variant.rstrip("~*")).strip()
        if not key:
            continue
        last = key.split()[-1]
        stem = prefix or explicit_stem or (is_cyrillic(last) and len(last) >= min_stem_len)
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
    raw: list[tuple[str, str, str]] = []  # (alias, kind, ref)
    for entity in taxonomy.entities.values():
        aliases = [a for lang in entity.aliases.values() for a in lang]
        aliases += _region_aliases(entity, meta)
        raw += [(alias, "entity", entity.id) for alias in aliases]
    for incident in taxonomy.incidents.values():
        raw += [(t, "incident", incident.id) for lang in incident.triggers.values() for t in lang]
    rel = taxonomy.relevance
    raw += [(t, "kz_term", "kz") for lang in rel.kz_terms.values() for t in lang]
    raw += [(t, "security_term", "sec") for lang in rel.security_terms.values() for t in lang]
    raw += [(t, "block", "block") for lang in meta.blockers.values() for t in lang]
    out = []
    for alias, kind, ref in raw:
        for key, flags in expand_alias(alias, meta.min_stem_len):
            out.append((key, Pattern(kind=kind, ref=ref, **flags)))
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
