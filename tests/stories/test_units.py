"""Date expressions, casualty numbers, incident fields and merges (offline)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from kzmon.stories.dates import event_date
from kzmon.stories.numbers import Count, article_counts, merge_counts


def _day(title: str, text: str, published: str) -> tuple[date, str, bool]:
    value, _ = event_date(title, text, datetime.fromisoformat(published))
    return value.value, value.precision, value.stated


@pytest.mark.parametrize(
    ("text", "published", "expected"),
    [
        ("Two blasts hit Atyrau on October 31.", "2011-11-03T09:00:00+00:00", date(2011, 10, 31)),
        ("Взрывы прогремели 5 июня 2016 года.", "2016-06-10T10:00:00+06:00", date(2016, 6, 5)),
        (
            "Атырауда 2011 жылғы 31 қазанда жарылыс болды.",
            "2011-11-05T10:00:00+06:00",
            date(2011, 10, 31),
        ),
        ("Gunmen attacked on Sunday.", "2016-06-06T12:15:00+03:00", date(2016, 6, 5)),
        ("Жексенбі күні шабуыл болды.", "2016-06-06T12:00:00+06:00", date(2016, 6, 5)),
        ("Вчера в Таразе стреляли.", "2011-11-13T12:00:00+06:00", date(2011, 11, 12)),
        ("Ақтөбеде 17 мамырда жарылыс болды.", "2011-05-18T09:00:00+06:00", date(2011, 5, 17)),
        # An analysis weeks later: the event's date, not the publication day.
        (
            "Three weeks after the June 5, 2016 attacks in Aktobe, questions remain.",
            "2016-06-28T00:00:00-04:00",
            date(2016, 6, 5),
        ),
    ],
)
def test_event_dates(text: str, published: str, expected: date) -> None:
    assert _day("", text, published)[0] == expected


def test_background_dates_and_lowercase_may_are_not_the_event() -> None:
    text = "Residents may 5 times protest. In December 2011 police fired on strikers here."
    value, precision, stated = _day("", text, "2022-01-02T18:00:00+06:00")
    assert (value, precision, stated) == (date(2022, 1, 2), "day", False)


def test_no_date_falls_back_to_the_local_publication_day() -> None:
    # 20:30 UTC on 4 June is already 5 June in Almaty.
    assert _day("", "Nothing dated here.", "2016-06-04T20:30:00+00:00")[0] == date(2016, 6, 5)


@pytest.mark.parametrize(
    ("language", "text", "kind", "value"),
    [
        ("en", "The gunman killed seven people, including five police officers.", "fatalities", 7),
        ("en", "At least 17 people were killed on Sunday.", "fatalities", 17),
        ("ru", "Погибли не менее 14 человек, ранены 20.", "fatalities", 14),
        ("ru", "Погибли не менее 14 человек, ранены 20.", "injured", 20),
        ("kk", "Шабуыл кезінде бір адам қаза тапты.", "fatalities", 1),
        ("kk", "Он жеті адам ұсталды.", "arrested", 17),
        ("en", "More than 3,000 people had been detained.", "arrested", 3000),
        ("en", "killing at least three police officers and a civilian", "fatalities", 4),
        ("en", "No one was killed in the blasts.", "fatalities", 0),
        ("en", "The death toll rose to 16.", "fatalities", 16),
    ],
)
def test_counts(language: str, text: str, kind: str, value: int) -> None:
    count = article_counts("", text, 2016, language)[kind]
    assert count is not None and count.high == value


def test_ages_years_and_other_years_are_not_counts() -> None:
    counts = article_counts(
        "", "A 25-year-old man was detained. In 2011 attacks killed 9 people.", 2016, "en"
    )
    assert counts["arrested"] is None and counts["fatalities"] is None


def test_russian_pronoun_is_not_ten() -> None:
    assert article_counts("", "Он убил двух полицейских.", 2016, "ru")["fatalities"] == Count(2, 2)


def test_merge_counts_ignores_partial_figures() -> None:
    assert merge_counts([Count(6, 6), Count(17, 17), Count(2, 2), None]) == {"min": 6, "max": 17}
    assert merge_counts([None, None]) is None


# ------------------------------------------------------------------ round 2: the classes the
# held-out run showed weak (cases written for tests/stories/dev.yaml's classes, not copied
# from the held-out set)


@pytest.mark.parametrize(
    ("text", "published", "expected", "precision"),
    [
        # a statement date ranks below the event's date
        (
            "The minister said on March 9 that the riots on March 6 were organised.",
            "2024-03-09T10:00:00+00:00",
            date(2024, 3, 6),
            "day",
        ),
        # a range gives its first day; the night "на 12" begins the evening before
        (
            "Столкновения 5-6 июня продолжались.",
            "2023-06-08T10:00:00+06:00",
            date(2023, 6, 5),
            "day",
        ),
        (
            "Ақтауда 3–4 шілдеде қақтығыс болды.",
            "2023-07-06T10:00:00+06:00",
            date(2023, 7, 3),
            "day",
        ),
        (
            "В ночь на 12 марта в Таразе стреляли.",
            "2023-03-12T10:00:00+06:00",
            date(2023, 3, 11),
            "day",
        ),
        (
            "Шымкентте 9 мамырға қараған түні атыс болды.",
            "2023-05-09T10:00:00+06:00",
            date(2023, 5, 8),
            "day",
        ),
        (
            "В ночь на субботу в Актобе стреляли.",
            "2023-05-07T10:00:00+06:00",
            date(2023, 5, 5),
            "day",
        ),
        (
            "Gunmen attacked a checkpoint late on Friday.",
            "2023-05-07T10:00:00+00:00",
            date(2023, 5, 5),
            "day",
        ),
        (
            "Police dispersed the crowd overnight.",
            "2023-05-07T09:00:00+00:00",
            date(2023, 5, 6),
            "day",
        ),
        # relative expressions give a week or a month
        (
            "КНБ на прошлой неделе задержал троих.",
            "2025-10-09T10:00:00+05:00",
            date(2025, 9, 29),
            "week",
        ),
        (
            "ҰҚК өткен аптада үш адамды ұстады.",
            "2025-10-09T10:00:00+05:00",
            date(2025, 9, 29),
            "week",
        ),
        (
            "Three men were detained last month.",
            "2025-10-09T10:00:00+05:00",
            date(2025, 9, 1),
            "month",
        ),
        (
            "The attack happened two days ago.",
            "2025-10-09T10:00:00+05:00",
            date(2025, 10, 7),
            "day",
        ),
        # a weekday after "will" / "next" is ahead, never the event
        (
            "The court will rule on Monday. Gunmen attacked on Sunday.",
            "2016-06-07T10:00:00+06:00",
            date(2016, 6, 5),
            "day",
        ),
    ],
)
def test_event_date_expressions(text: str, published: str, expected: date, precision: str) -> None:
    value, got_precision, stated = _day("", text, published)
    assert (value, got_precision, stated) == (expected, precision, True)


def test_a_statement_weekday_alone_is_a_weak_date() -> None:
    """ "сообщили в МВД в воскресенье": when it was said; kept, but it does not veto."""
    value, _, stated = _day(
        "", "Число погибших выросло, сообщили в МВД в воскресенье.", "2020-02-09T12:00:00+06:00"
    )
    assert value == date(2020, 2, 9) and not stated


@pytest.mark.parametrize(
    ("language", "text", "kind", "count"),
    [
        # a day number is not a count; a capitalised number word inside a sentence is a name
        (
            "en",
            "A fire at the depot on August 26 killed at least nine people.",
            "fatalities",
            Count(9, 9),
        ),
        ("en", "Olympic medalist Denis Ten died in hospital.", "fatalities", None),
        # Kazakh number words with endings; a toll far from its number
        ("kk", "Атыста қаза тапқандар саны жетіге жетті.", "fatalities", Count(7, 7)),
        ("kk", "Қаза тапқандардың бесеуі полиция қызметкерлері.", "fatalities", Count(5, 5)),
        ("kk", "Олар бірге жұмыс істеді, онда екі адам ұсталды.", "arrested", Count(2, 2)),
        (
            "ru",
            "Число погибших в результате беспорядков в районе выросло до 10 человек.",
            "fatalities",
            Count(10, 10),
        ),
        # lists add up
        (
            "en",
            "Officials said 13 attackers, three soldiers and three civilians were killed.",
            "fatalities",
            Count(19, 19),
        ),
        # one death without a number
        ("en", "The hostage-taker was shot dead by police.", "fatalities", Count(1, 1)),
        ("en", "A Kazakh border guard was killed in a shoot-out.", "fatalities", Count(1, 1)),
        ("ru", "Заложники освобождены, захватчик ликвидирован.", "fatalities", Count(1, 1)),
        ("kk", "Полиция шабуылдаушының көзін жойды.", "fatalities", Count(1, 1)),
        # vague quantities
        ("en", "Eight people were killed and dozens injured.", "injured", Count(20, 99)),
        ("ru", "Задержаны десятки человек.", "arrested", Count(20, 99)),
    ],
)
def test_counts_round_two(language: str, text: str, kind: str, count: Count | None) -> None:
    assert article_counts("", text, 2020, language)[kind] == count


def test_a_number_beats_a_vague_quantity() -> None:
    text = "Dozens were hurt. Officials said 192 people were injured."
    assert article_counts("", text, 2020, "en")["injured"] == Count(192, 192)
    assert merge_counts([Count(20, 99), Count(192, 192)]) == {"min": 192, "max": 192}
    assert merge_counts([Count(20, 99), None]) == {"min": 20, "max": 99}


def test_name_keys_agree_across_scripts_and_endings() -> None:
    from kzmon.stories.names import name_keys, skeleton

    assert skeleton("Rybakina") == skeleton("Рыбакина") == skeleton("Рыбакинаның") != ""
    assert skeleton("Wimbledon") == skeleton("Уимблдон")
    assert skeleton("Golovkin") == skeleton("Головкинге")
    # headline case says nothing; a sentence-initial word is not a name; taxonomy names are out
    keys = name_keys(
        "Rybakina Wins Wimbledon Title", "Kazakhstan's Rybakina beat Jabeur in London."
    )
    assert keys[:2] == [skeleton("Rybakina"), skeleton("Jabeur")]
    assert skeleton("Kazakhstan") not in keys


def _features(title: str, text: str, published: str = "2024-10-17T11:00:00+00:00"):
    from kzmon.stories.features import article_features

    return article_features(
        {
            "url": f"https://x.example/{abs(hash(text))}",
            "title": title,
            "text": text,
            "published_at": published,
            "outlet": "rferl",
        }
    )


def test_places_of_background_sentences_weigh_less() -> None:
    f = _features(
        "Three Suspected Recruiters Detained",
        "The KNB said on October 17 it had detained three people in Saryagash district of "
        "Turkistan region. Two days earlier the KNB announced the arrest of five people in Aktau.",
    )
    assert f.main_place == "place:saryaghash"
    assert f.place_weights["place:aktau"] < f.place_weights["place:saryaghash"] / 4


def test_a_neighbour_named_in_passing_does_not_locate_a_report_abroad() -> None:
    from kzmon.stories.scoring import abroad

    f = _features(
        "Число погибших выросло до десяти",
        "Число погибших выросло до 10 человек. Тысячи жителей перешли границу с Кыргызстаном.",
        "2020-02-09T12:30:00+06:00",
    )
    assert abroad(f.place_weights, f.main_place) is None
    g = _features(
        "Protesters Seize Government Buildings In Bishkek",
        "Protesters in Bishkek seized the parliament.",
    )
    assert abroad(g.place_weights, g.main_place) == "KG"


def test_accidents_and_lockdowns_get_no_incident_record() -> None:
    from kzmon.stories.incident import build_incident
    from kzmon.stories.model import Member, Story

    def member(title: str, text: str, types: list[str]) -> Member:
        f = _features(title, text, "2021-03-13T15:00:00+00:00")
        m = Member.from_features(f)
        m.types, m.relevant, m.relevance = types, True, 0.9
        return m

    crash = member(
        "Four Killed As Plane Crashes At Almaty Airport",
        "A plane crashed in Almaty on March 13, killing four.",
        ["killing"],
    )
    assert build_incident(Story(id="s-1", members=[crash])) is None
    lockdown = member(
        "State of emergency declared",
        "Tokayev declared a state of emergency over the coronavirus pandemic in Almaty.",
        ["state_of_emergency", "ban"],
    )
    assert build_incident(Story(id="s-2", members=[lockdown])) is None
    shooting = member(
        "Gunman opens fire in Almaty",
        "A gunman opened fire at a police station in Almaty on March 13, killing four.",
        ["armed_attack", "killing"],
    )
    assert build_incident(Story(id="s-3", members=[shooting])) is not None


def _member(title: str, text: str, published: str, types: list[str]):
    from kzmon.stories.model import Member

    m = Member.from_features(_features(title, text, published))
    m.types = types
    return m


def test_another_town_of_the_region_on_another_day_is_another_incident() -> None:
    from kzmon.stories.model import Story
    from kzmon.stories.scoring import JOIN_SCORE, score

    first = _member(
        "В Бейнеу полицейские застрелили мужчину",
        "В воскресенье в поселке Бейнеу Мангистауской области полицейские застрелили мужчину.",
        "2023-07-02T20:00:00+06:00",
        ["armed_attack", "killing"],
    )
    story = Story(id="s-a", members=[first])
    other = _member(
        "В Актау мужчина с ножом напал на полицейских",
        "В понедельник в Актау мужчина с ножом напал на двух полицейских. Оба ранены. "
        "Накануне в Бейнеу полицейские застрелили мужчину.",
        "2023-07-03T19:00:00+06:00",
        ["armed_attack"],
    )
    same = _member(
        "Бейнеуде полиция ер адамды атып өлтірді",
        "Маңғыстау облысы Бейнеу кентінде жексенбі күні полиция ер адамды атып өлтірді.",
        "2023-07-03T10:00:00+06:00",
        ["armed_attack", "killing"],
    )
    assert score(other, story) < JOIN_SCORE <= score(same, story)


def test_a_follow_up_naming_the_story_day_joins() -> None:
    from kzmon.stories.model import Story
    from kzmon.stories.scoring import JOIN_SCORE, score

    attack = _member(
        "В Павлодаре мужчина открыл стрельбу на рынке",
        "В пятницу на центральном рынке Павлодара мужчина открыл стрельбу. Погибли два человека.",
        "2025-05-16T15:00:00+05:00",
        ["armed_attack", "killing"],
    )
    follow_up = _member(
        "В Павлодаре арестован владелец ружья, из которого стреляли на рынке",
        "Суд в Павлодаре 20 мая санкционировал арест владельца ружья, из которого 16 мая был "
        "открыт огонь на центральном рынке.",
        "2025-05-21T15:00:00+05:00",
        ["arrest", "trial"],
    )
    assert score(follow_up, Story(id="s-p", members=[attack])) >= JOIN_SCORE
