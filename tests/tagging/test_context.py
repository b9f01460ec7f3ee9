"""Where it happened (``enrich.tagging.context``): generic bodies, country words that locate
nothing, items in mixed sentences, the lead, the reading's length, and the precondition that
Kazakhstan security news names Kazakhstan. Texts written for these tests (not from any
held-out set)."""

from __future__ import annotations

import pytest

from enrich.tagging import Tagger
from enrich.tagging.context import READING_CHARS, Reading, sentence_starts


def _orgs(tagger: Tagger, text: str, title: str = "") -> set[str]:
    result = tagger.tag({"title": title, "text": text})
    return {e["id"] for e in result["entities"] if e["type"] == "organization"}


def _reading(tagger: Tagger, text: str, title: str = "") -> Reading:
    scanned = f"{title}\n\n{text}" if title else text
    matches = tagger.matcher.scan(scanned)
    return Reading(matches, matches.mentions, tagger.tables, title_chars=len(title))


@pytest.mark.parametrize(
    ("text", "kazakh"),
    [
        ("Tajik border guards said two smugglers were killed at the Afghan frontier.", False),
        ("Kazakh border guards detained two Uzbek citizens near Saryagash.", True),
        ("Kyrgyz border guards fired warning shots; Kazakhstan was not involved.", False),
        ("Пограничники Таджикистана сообщили о перестрелке на афганской границе.", False),
        ("Пограничники задержали нарушителя в Туркестанской области.", True),
        ("Қырғызстан шекарашылары атыс болғанын хабарлады.", False),
        ("Түркістан облысында Шекара қызметі қарулы адамды ұстады.", True),
        # The other side of a border is no location: the patrol is Kazakhstan's.
        (
            "On the border with Kyrgyzstan, a Border Service patrol near Taraz came under fire.",
            True,
        ),
    ],
)
def test_border_guards_belong_to_the_country_of_their_sentence(
    tagger: Tagger, text: str, kazakh: bool
) -> None:
    assert ("org:border-service" in _orgs(tagger, text)) is kazakh


@pytest.mark.parametrize(
    ("text", "where"),
    [
        # Where someone came from, the other side of a border: no location.
        ("Men who returned from Syria were detained by police in Aktobe.", "kz"),
        ("Сириядан оралған үш адам Ақтөбеде ұсталды.", "kz"),
        ("Выходцы из Сирии задержаны полицией в Актобе.", "kz"),
        ("Өзбекстан шекарасында Шымкент полициясы күдіктіні ұстады.", "kz"),
        # A nominative "-стан" is not an ablative: Uzbekistan is where it happened.
        ("Өзбекстан полициясы күдіктіні ұстады.", "abroad"),
        ("Uzbek police detained a suspect in Tashkent.", "abroad"),
    ],
)
def test_country_words_that_say_where_from_are_not_locations(
    tagger: Tagger, text: str, where: str
) -> None:
    assert _reading(tagger, text).where[0] == where


def test_an_item_in_a_mixed_sentence_is_where_its_nearest_country_words_are(
    tagger: Tagger,
) -> None:
    # Kazakhstan and Kabul in one title: the Taliban are in Kabul, not in Kazakhstan.
    reading = _reading(
        tagger, "", title="Kazakhstan keeps its Kabul embassy open after the Taliban seize the city"
    )
    evidence = reading.evidence()
    assert evidence["security_abroad"] > 0
    assert evidence["security_kz"] == 0


def test_sentences_and_the_lead(tagger: Tagger) -> None:
    text = (
        "Police in Aktobe detained a man. He had weapons! Was he alone? Investigators say "
        "yes.\nNext."
    )
    starts = sentence_starts(text)
    assert [text[s : s + 4] for s in starts] == ["Poli", "He h", "Was ", "Inve", "Next"]
    reading = _reading(tagger, text, title="Arrest in Aktobe")
    assert list(reading.lead) == [0, 1]  # the title and the first sentence
    assert reading.lead_where() == "kz"


def test_the_reading_covers_the_first_characters_and_every_mention_is_still_tagged(
    tagger: Tagger,
) -> None:
    filler = "The weather was fine and the markets were calm. " * (READING_CHARS // 40)
    text = filler + "Gunmen attacked a police station in Aktobe, the KNB said."
    result = tagger.tag({"title": "", "text": text})
    assert {"place:aktobe", "org:knb"} <= {e["id"] for e in result["entities"]}
    assert "armed_attack" in result["incident_types"]
    reading = _reading(tagger, text)
    assert reading.evidence()["security"] == 0  # past the reading: only the rule sees it


def test_no_kazakhstan_named_no_kazakhstan_security_news(tagger: Tagger) -> None:
    text = (
        "Police in Ohio arrested a man who planned a bombing at a shopping centre; "
        "investigators found explosives and extremist propaganda at his home."
    )
    kz = tagger.tag({"title": "Bomb plot foiled", "text": text})["kz_security"]
    assert kz["relevant"] is False
    assert kz["score"] < 0.5
    assert "no Kazakhstan, Kazakh place, person or body named" in kz["reasons"]


@pytest.mark.parametrize(
    ("title", "text", "relevant"),
    [
        # Plainly worded security news in Kazakhstan.
        (
            "Man held in Kokshetau",
            "Police in Kokshetau detained a man who was recruiting "
            "teenagers for a terrorist group, the Interior Ministry of Kazakhstan said.",
            True,
        ),
        (
            "Нападение в Таразе",
            "В Таразе мужчина открыл огонь по полицейскому патрулю, нападавший задержан.",
            True,
        ),
        (
            "Экстремистке үкім",
            "Павлодар соты экстремизмді насихаттаған әйелді бес жылға бас бостандығынан айырды.",
            True,
        ),
        # Words of violence in other kinds of story.
        (
            "Barys storm back",
            "Barys Astana attacked from the first minute and shot down "
            "the leaders 5-1 in the hockey league.",
            False,
        ),
        (
            "Тенге рухнул",
            "Курс тенге обвалился на бирже в Алматы, Нацбанк провел интервенции.",
            False,
        ),
        (
            "Жол апаты",
            "Қарағанды маңында автобус аударылып, үш адам қаза тапты, құтқарушылар оқиға орнында.",
            False,
        ),
        (
            "Tokayev on the Gaza war",
            "President Tokayev called for a ceasefire in Gaza and "
            "urged Israel and Hamas to return to talks.",
            False,
        ),
        (
            "Fighting in Badakhshan",
            "Tajik security forces killed eight militants in "
            "Badakhshan; Kazakhstan's foreign ministry urged restraint.",
            False,
        ),
    ],
)
def test_what_happened_where_decides(tagger: Tagger, title: str, text: str, relevant: bool) -> None:
    assert tagger.tag({"title": title, "text": text})["kz_security"]["relevant"] is relevant


def test_a_generic_body_named_past_the_reading_is_kept_near_kazakhstan(tagger: Tagger) -> None:
    filler = "The weather was fine and the markets were calm. " * (READING_CHARS // 40)
    kazakh = filler + "Kazakhstan's Interior Ministry said two men were detained."
    assert "org:interior-ministry" in _orgs(tagger, kazakh)
    foreign = filler + "Poland's Interior Ministry said two men were detained in Warsaw."
    assert "org:interior-ministry" not in _orgs(tagger, foreign)
