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
