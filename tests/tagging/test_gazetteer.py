"""The gazetteer: reproducible build, admin1 on every Kazakh place, morphology recall."""

from __future__ import annotations

import json

import pytest

from enrich.tagging import Tagger
from enrich.tagging.gazetteer import build, render
from enrich.tagging.model import MODEL_FILE, train
from enrich.tagging.model import render as render_model
from enrich.tagging.taxonomy import GAZETTEER_FILE, REPUBLICAN_CITIES, load_taxonomy

# Inflected names, written by hand (not generated): (sentence, place id). Each sentence names
# Kazakhstan so that GeoNames places (which need Kazakh context) may count.
RUSSIAN = [
    ("Полиция в Кандыагаше, Казахстан", "place:kandyagash"),
    ("выехали из Шымкента (Казахстан)", "place:shymkent"),
    ("под Карагандой, Казахстан", "place:karaganda"),
    ("в Степногорске, Казахстан", "place:stepnogorsk"),
    ("из Экибастуза, Казахстан", "place:ekibastuz"),
    ("в Жезказгане, Казахстан", "place:zhezkazgan"),
    ("в Лисаковске, Казахстан", "place:lisakovsk"),
    ("в Аркалыке, Казахстан", "place:arkalyk"),
    ("к Таразу, Казахстан", "place:taraz"),
    ("из Кызылорды, Казахстан", "place:kyzylorda"),
    ("в Костанае, Казахстан", "place:kostanay"),
    ("в Талдыкоргане, Казахстан", "place:taldykorgan"),
    ("в Жанаозене, Казахстан", "place:zhanaozen"),
    ("в Кенкияке, Казахстан", "place:kenkiyak"),
    ("в Щучинске, Казахстан", "place:shchuchinsk"),
    ("из Атбасара, Казахстан", "place:atbasar"),
    ("под Шалкаром, Казахстан", "place:shalqar"),
    ("в Хромтау, Казахстан", "place:khromtau"),
    ("в Сарыагаше, Казахстан", "place:saryaghash"),
    ("в Кентау, Казахстан", "place:kentau"),
    ("в Усть-Каменогорске, Казахстан", "place:oskemen"),
    ("в Ушарале, Казахстан", "place:usharal"),
    ("из Капчагая, Казахстан", "place:konaev"),
    ("в Туркестане, Казахстан", "place:turkistan"),
]
KAZAKH = [
    ("Қандыағашта, Қазақстан", "place:kandyagash"),
    ("Шымкенттен, Қазақстан", "place:shymkent"),
    ("Қарағандыда, Қазақстан", "place:karaganda"),
    ("Екібастұзда, Қазақстан", "place:ekibastuz"),
    ("Жезқазғанда, Қазақстан", "place:zhezkazgan"),
    ("Таразда, Қазақстан", "place:taraz"),
    ("Қызылордадан, Қазақстан", "place:kyzylorda"),
    ("Қостанайда, Қазақстан", "place:kostanay"),
    ("Көкшетауда, Қазақстан", "place:kokshetau"),
    ("Талдықорғанда, Қазақстан", "place:taldykorgan"),
    ("Жаңаөзенде, Қазақстан", "place:zhanaozen"),
    ("Құлсарыда, Қазақстан", "place:kulsary"),
    ("Бейнеуде, Қазақстан", "place:beyneu"),
    ("Кеңқияқта, Қазақстан", "place:kenkiyak"),
    ("Балқашқа, Қазақстан", "place:balkhash"),
    ("Арқалықтағы, Қазақстан", "place:arkalyk"),
    ("Үшаралда, Қазақстан", "place:usharal"),
    ("Шалқарда, Қазақстан", "place:shalqar"),
    ("Хромтаудың, Қазақстан", "place:khromtau"),
    ("Кентаудан, Қазақстан", "place:kentau"),
    ("Атбасарлық, Қазақстан", "place:atbasar"),
    ("Ақтөбелік, Қазақстан", "place:aktobe"),
    ("Өскеменнің, Қазақстан", "place:oskemen"),
    ("Түркістанға, Қазақстан", "place:turkistan"),
]


def test_gazetteer_file_is_what_the_build_gives_and_the_build_is_reproducible() -> None:
    # The committed file was written by another process (another hash seed): one fresh build
    # equal to it shows the build is reproducible (two builds in one process would share the
    # seed and prove nothing more) and that the file is current.
    assert GAZETTEER_FILE.read_text(encoding="utf-8") == render(build()), "run the gazetteer build"


def test_relevance_model_file_is_what_training_gives(shared_dir) -> None:
    assert MODEL_FILE.read_text(encoding="utf-8") == render_model(train(shared_dir))


def test_every_kazakh_place_has_a_region_and_the_2022_regions_exist() -> None:
    taxonomy = load_taxonomy()
    places = [e for e in taxonomy.entities.values() if e.type == "place" and e.country == "KZ"]
    data = json.loads(GAZETTEER_FILE.read_text(encoding="utf-8"))
    assert len(places) >= 300 and len(data["places"]) >= 250
    for place in places:
        region = taxonomy.entities[place.admin1 or ""]
        assert region.kind == "region" or region.id in REPUBLICAN_CITIES, place.id
    by_id = taxonomy.entities
    assert by_id["place:semey"].admin1 == "place:abai-region"
    assert by_id["place:taldykorgan"].admin1 == "place:jetisu-region"
    assert by_id["place:zhezkazgan"].admin1 == "place:ulytau-region"
    assert by_id["place:urzhar"].admin1 == "place:abai-region"  # coded East Kazakhstan
    assert by_id["place:zharkent"].admin1 == "place:jetisu-region"
    assert by_id["place:satpayev"].admin1 == "place:ulytau-region"
    assert by_id["place:arkankergen"].admin1 == "place:jetisu-region"
    assert by_id["place:almaty"].admin1 == "place:almaty"


def test_tagged_places_carry_admin1(tagger: Tagger) -> None:
    result = tagger.tag({"title": "", "text": "Взрыв в Кандыагаше и в Москве, Казахстан."})
    regions = {e["id"]: e["admin1"] for e in result["entities"] if e["type"] == "place"}
    assert regions == {"place:kandyagash": "place:aktobe-region", "place:moscow": None}


def test_common_word_villages_need_context(tagger: Tagger) -> None:
    # "Shar" (a town in Abai Region) is also Russian "шар", a ball.
    assert not _places(tagger, "Дети играли в шар на улице.")
    # A GeoNames town counts only near Kazakhstan or a sure Kazakh place.
    assert not _places(tagger, "Khromtau chrome output rose.")
    assert "place:khromtau" in _places(tagger, "Khromtau chrome output rose in Kazakhstan.")


def _places(tagger: Tagger, text: str) -> set[str]:
    result = tagger.tag({"title": "", "text": text})
    return {e["id"] for e in result["entities"] if e["type"] == "place"}


@pytest.mark.parametrize(("language", "cases"), [("ru", RUSSIAN), ("kk", KAZAKH)])
def test_morphology_recall_on_inflected_names(tagger: Tagger, language: str, cases) -> None:
    missed = [(text, ref) for text, ref in cases if ref not in _places(tagger, text)]
    recall = 1 - len(missed) / len(cases)
    print(
        f"\n{language} inflected names: recall {recall:.3f} ({len(cases)} forms), missed {missed}"
    )
    assert recall >= 0.95, missed
