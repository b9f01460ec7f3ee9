"""Unit tests of the tagger: contract shape, normalisation, inflection, disambiguation."""

from __future__ import annotations

import pytest

import enrich.tagging
from enrich.tagging import INCIDENT_TYPES, Tagger
from enrich.tagging.taxonomy import expand_alias, expand_braces, iter_patterns, load_taxonomy


def _tag(tagger: Tagger, text: str, title: str = "") -> dict:
    return tagger.tag({"title": title, "text": text})


def _names(result: dict, etype: str) -> set[str]:
    return {e["name"] for e in result["entities"] if e["type"] == etype}


def test_result_shape_matches_contract(tagger: Tagger) -> None:
    text = "Police in Aktobe detained members of Jund al-Khilafah, the KNB said."
    result = _tag(tagger, text)
    assert set(result) == {"entities", "incident_types", "kz_security", "taxonomy_version"}
    assert result["taxonomy_version"] == enrich.tagging.TAXONOMY_VERSION == tagger.version
    for entity in result["entities"]:
        keys = {"id", "type", "name", "mentions", "first_offset"}
        assert set(entity) == (keys | {"geo", "admin1"} if entity["type"] == "place" else keys)
    aktobe = next(e for e in result["entities"] if e["id"] == "place:aktobe")
    assert aktobe["first_offset"] == text.index("Aktobe")
    assert set(aktobe["geo"]) == {"lat", "lon"}
    assert {"relevant", "score", "reasons"} <= set(result["kz_security"])
    assert {"rule_score", "model_score", "rule_relevant"} <= set(result["kz_security"])
    assert 0 <= result["kz_security"]["score"] <= 1
    assert set(result["incident_types"]) <= set(INCIDENT_TYPES)


def test_incident_vocabulary_is_exact() -> None:
    assert tuple(load_taxonomy().incidents) == INCIDENT_TYPES


def test_ids_are_stable_and_unique() -> None:
    taxonomy = load_taxonomy()
    assert "place:aktobe" in taxonomy.entities
    assert "group:jund-al-khilafah" in taxonomy.entities
    assert "person:nursultan-nazarbayev" in taxonomy.entities
    assert "org:knb" in taxonomy.entities


def test_no_alias_points_to_two_entities() -> None:
    owners: dict[str, set[str]] = {}
    for key, pattern in iter_patterns(load_taxonomy()):
        if pattern.kind == "entity":
            owners.setdefault(key, set()).add(pattern.ref)
    clashes = {key: refs for key, refs in owners.items() if len(refs) > 1}
    assert clashes == {}


def test_brace_and_stem_expansion() -> None:
    assert expand_braces("Актюбинск{ая|ой} обл") == ["Актюбинская обл", "Актюбинской обл"]
    assert expand_alias("Jund al-Khilafah", 4)[0][0] == " jund al khilafah"
    assert expand_alias("?Oral", 4)[0][1]["ambiguous"] is True
    assert expand_alias("Астан~", 4) == [
        (" астан", {"ambiguous": False, "capital": False, "stem": True, "prefix": False})
    ]
    assert expand_alias("тыйым салын*", 4)[0][1]["prefix"] is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Soldiers of the Jund al Khilafah group", "Jund al-Khilafah"),
        ("JUND AL-KHILAFAH claimed the attack", "Jund al-Khilafah"),
        ("the Jund-al-Khilafah cell", "Jund al-Khilafah"),
        ("Хизб ут-Тахрир запрещена", "Hizb ut-Tahrir"),
        ("членов «Исламского государства»", "Islamic State"),
        ("Ислам мемлекеті тобының мүшелері", "Islamic State"),
    ],
)
def test_group_spelling_variants(tagger: Tagger, text: str, expected: str) -> None:
    assert _names(_tag(tagger, text), "group") == {expected}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("взрыв в Актобе", {"Aktobe"}),
        ("в Актюбинской области", {"Aktobe Region"}),
        ("Актюбинская область", {"Aktobe Region"}),
        ("в Жанаозене", {"Zhanaozen"}),
        ("из Караганды и под Карагандой", {"Karaganda"}),
        ("Ақтөбеде жарылыс болды", {"Aktobe"}),
        ("Ақтөбе облысында", {"Aktobe Region"}),
        ("Жаңаөзенде", {"Zhanaozen"}),
        ("Қарағандыда", {"Karaganda"}),
        ("in Aqtobe and Aktyubinsk", {"Aktobe"}),
        ("Shimkent, Chimkent", {"Shymkent"}),
        ("Alma-Ata", {"Almaty"}),
        ("Nur-Sultan, formerly Tselinograd", {"Astana"}),
        ("Mangistau oblast", {"Mangystau Region"}),
        ("Mangyshlak Province", {"Mangystau Region"}),
        ("Ust-Kamenogorsk", {"Oskemen"}),
        ("Guryev", {"Atyrau"}),
    ],
)
def test_place_variants_and_inflection(tagger: Tagger, text: str, expected: set[str]) -> None:
    assert _names(_tag(tagger, text), "place") == expected


@pytest.mark.parametrize(
    "text",
    [
        "The court heard oral arguments on Monday.",
        "Oral history projects in Kazakhstan collect memories.",
        "Aktobeneft and Astanagaz are companies.",
        "The Moscow Times reported the story.",
        "Они вернулись из семей, которые живут в горах.",
    ],
)
def test_no_tags_inside_words_or_for_common_words(tagger: Tagger, text: str) -> None:
    assert _names(_tag(tagger, text), "place") == set()


def test_ambiguous_alias_tagged_in_context(tagger: Tagger) -> None:
    text = "Police in the western city of Oral detained two men."
    assert _names(_tag(tagger, text), "place") == {"Oral, Kazakhstan"}
    assert _names(_tag(tagger, "В городе Орал задержаны двое."), "place") == {"Oral, Kazakhstan"}


def test_negated_incident_dropped(tagger: Tagger) -> None:
    result = _tag(tagger, "The attacks were not suicide bombings, prosecutors said.")
    assert "suicide_attack" not in result["incident_types"]


def test_title_only_entity_has_offset_minus_one(tagger: Tagger) -> None:
    result = _tag(tagger, "Nothing here.", title="Blast in Atyrau")
    atyrau = next(e for e in result["entities"] if e["id"] == "place:atyrau")
    assert atyrau["first_offset"] == -1
    assert "bombing" in result["incident_types"]


def test_get_tagger_is_cached() -> None:
    assert enrich.tagging.get_tagger() is enrich.tagging.get_tagger()


def test_first_offset_survives_whitespace_and_punctuation_runs(tagger: Tagger) -> None:
    text = "«Взрывы»  —  в  Атырау!\n\n\n  (КНБ, 2011)…  Atyrau,   Aktobe;\tАқтөбеде"
    result = _tag(tagger, text)
    offsets = {e["name"]: e["first_offset"] for e in result["entities"]}
    assert offsets["Atyrau"] == text.index("Атырау")
    assert offsets["National Security Committee"] == text.index("КНБ")
    assert offsets["Aktobe"] == text.index("Aktobe")


def test_first_offsets_point_at_word_starts_in_samples(tagger: Tagger, shared_dir) -> None:
    for path in sorted((shared_dir / "samples" / "articles").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for entity in _tag(tagger, text)["entities"]:
            offset = entity["first_offset"]
            assert text[offset].isalnum(), (path.name, entity)
            assert offset == 0 or not text[offset - 1].isalnum(), (path.name, entity)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from Moscow to St. Petersburg", {"Moscow", "Saint Petersburg"}),
        ("an attack in Khost province", {"Khost Province"}),
        ("the Karakalpak region of Uzbekistan", {"Karakalpakstan", "Uzbekistan"}),
        ("(Tengri News [Almaty], April 1, 2010)", set()),
    ],
)
def test_multiword_places_and_citations(tagger: Tagger, text: str, expected: set[str]) -> None:
    assert _names(_tag(tagger, text), "place") == expected


def test_kazakh_negative_infix_and_russian_boilerplate(tagger: Tagger) -> None:
    assert "ban" in _tag(tagger, "Ұйымға тыйым салынды.")["incident_types"]
    assert "ban" not in _tag(tagger, "Шеруге тыйым салынбағанын айтты.")["incident_types"]
    text = "Боевики ИГИЛ (запрещена в РФ) заявили об атаке."
    result = _tag(tagger, text)
    assert _names(result, "group") == {"Islamic State"}
    assert "ban" not in result["incident_types"]


def test_relevance_reasons_name_what_fired(tagger: Tagger) -> None:
    text = "Two blasts hit Atyrau. Jund al-Khilafah claimed responsibility, Kazakhstan's KNB said."
    kz = _tag(tagger, text, title="Blasts in Atyrau")["kz_security"]
    assert kz["relevant"] is True
    joined = " ".join(kz["reasons"])
    assert "Atyrau" in joined and "bombing" in joined and "Jund al-Khilafah" in joined
    economy = _tag(tagger, "Kazakhstan's wheat exports from Kostanay rose 10% this year.")
    assert economy["kz_security"]["relevant"] is False


def test_generic_body_names_need_kazakhstan_context(tagger: Tagger) -> None:
    us = "The National Guard was deployed in Ohio, the Interior Ministry of Poland said."
    assert _names(_tag(tagger, us), "organization") == set()
    kz = "The National Guard was deployed in Almaty, the Interior Ministry said."
    expected = {"National Guard of Kazakhstan", "Ministry of Internal Affairs"}
    assert _names(_tag(tagger, kz), "organization") == expected
    assert _names(_tag(tagger, "Passengers of Air Astana landed safely."), "place") == set()
