"""Event dates stated in English, Russian and Kazakh text, resolved against the publication date.

A small rule set, not a library: the expressions reporting uses are few ("on October 31",
"5 июня 2016 года", "2011 жылғы 31 қазанда", "on Sunday", "вчера", "кеше"), but Kazakh writes
its month names inflected (қазан·да, қараша·ның) and years before days ("2011 жылғы 31
қазанда"), which dateparser's Kazakh data does not cover, and dateparser's ``search_dates``
costs milliseconds per article where these regular expressions cost microseconds (see
docs/stories.md). The month and weekday names live in ``dates.yaml``.

`find_dates(title, text, published)` returns every date mention with its position;
`event_date(...)` picks the one the article is about (see `pick_event_date`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml

LOGGER = logging.getLogger(__name__)

DATA_FILE = Path(__file__).resolve().parent / "dates.yaml"
Precision = Literal["day", "week", "month"]
#: Time zone for publication times given in UTC: the events are in Kazakhstan.
LOCAL_ZONE = ZoneInfo("Asia/Almaty")
#: A date later than this many days after publication is a future plan, not the event.
FUTURE_SLACK_DAYS = 1
#: Mentions up to this many days before publication are recent news.
RECENT_DAYS = 10
#: An analysis "weeks later" names the event's date: up to this age a mention can still be
#: the event date; older ones are background (an anniversary, a trial months later).
ANALYSIS_DAYS = 60


@dataclass(frozen=True)
class DateMention:
    """One date expression: the day it names, how precise, where it stands in the article."""

    value: date
    precision: Precision
    offset: int  # character offset in "title\ntext" (the title starts at 0)
    explicit: bool  # an absolute date (day and month written), not a weekday or "yesterday"
    in_title: bool = False


@dataclass(frozen=True)
class EventDate:
    """The date an article reports, with its precision and whether the text stated it."""

    value: date
    precision: Precision
    stated: bool  # False: no date expression, the publication date stands in


@cache
def _tables() -> dict:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


@cache
def _month_lookup() -> dict[str, int]:
    """Every month word (all languages, lower case) → month number."""
    out: dict[str, int] = {}
    for names in _tables()["months"].values():
        for number, words in enumerate(names, start=1):
            for word in words.split("|"):
                out[word] = number
    return out


@cache
def _weekday_lookup() -> dict[str, int]:
    out: dict[str, int] = {}
    for names in _tables()["weekdays"].values():
        for number, words in enumerate(names):
            for word in words.split("|"):
                out[word] = number
    return out


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    t = _tables()
    month = _alternation(list(_month_lookup()))
    weekday = _alternation(list(_weekday_lookup()))
    kk_suffix = r"(?:[а-яәғқңөұүһі]{0,6})"
    year_word = r"(?:\s*(?:года|год|г\.|жылғы|жылы|жыл|ж\.))?"
    relative = {
        key: _alternation(words) for key, words in t["relative"].items()
    }  # yesterday/today/...
    day = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|-?(?:ші|шы|сі|сы|і|ы))?"
    year = r"(?P<year>(?:19|20)\d\d)"
    return [
        ("iso", re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b")),
        (
            "dotted",
            re.compile(r"\b(?P<day>[0-3]?\d)\.(?P<month>[01]\d)\.(?P<year>(?:19|20)\d\d)\b"),
        ),
        # 2011 жылғы 31 қазанда / 2011 ж. 31 қазан
        (
            "year_day_month",
            re.compile(
                rf"\b{year}{year_word}\s+{day}\s*(?P<mname>{month}){kk_suffix}\b",
                re.IGNORECASE,
            ),
        ),
        # 5 июня 2016 года / 31 October 2011 / 31 қазанда
        (
            "day_month",
            re.compile(
                rf"\b{day}\s+(?:of\s+)?(?P<mname>{month}){kk_suffix}\.?(?:,?\s+{year}{year_word})?",
                re.IGNORECASE,
            ),
        ),
        # October 31, 2011 / Oct. 31
        (
            "month_day",
            re.compile(
                rf"\b(?P<mname>{month})\.?\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b(?:,?\s+{year})?",
                re.IGNORECASE,
            ),
        ),
        # June 2016 / в июне 2016 года / 2016 жылғы маусымда
        (
            "month_year",
            re.compile(rf"\b(?P<mname>{month}){kk_suffix}\.?,?\s+{year}\b", re.IGNORECASE),
        ),
        (
            "year_month",
            re.compile(
                rf"\b{year}\s*(?:жылғы|жылы|ж\.)\s+(?P<mname>{month}){kk_suffix}\b", re.IGNORECASE
            ),
        ),
        ("weekday", re.compile(rf"(?<!\w)(?P<wname>{weekday}){kk_suffix}(?!\w)", re.IGNORECASE)),
        ("yesterday", re.compile(rf"(?<!\w)(?:{relative['yesterday']})(?!\w)", re.IGNORECASE)),
        ("today", re.compile(rf"(?<!\w)(?:{relative['today']})(?!\w)", re.IGNORECASE)),
        ("last_week", re.compile(rf"(?<!\w)(?:{relative['last_week']})(?!\w)", re.IGNORECASE)),
    ]


def local_date(published: datetime) -> date:
    """The publication day where the article was published (UTC stamps: Almaty time)."""
    offset = published.utcoffset()
    if published.tzinfo is None or offset is None or offset == timedelta(0):
        aware = published if published.tzinfo else published.replace(tzinfo=ZoneInfo("UTC"))
        return aware.astimezone(LOCAL_ZONE).date()
    return published.date()


def _with_year(month: int, day: int, year: int | None, published: date) -> date | None:
    """The date, taking the most recent year not after publication when the year is absent."""
    try:
        if year is not None:
            return date(year, month, day)
        for candidate_year in (published.year, published.year - 1):
            candidate = date(candidate_year, month, day)
            if candidate <= published + timedelta(days=FUTURE_SLACK_DAYS):
                return candidate
    except ValueError:
        return None
    return None


def _last_weekday(weekday: int, published: date) -> date:
    """The latest day with this weekday on or before publication ("on Sunday")."""
    return published - timedelta(days=(published.weekday() - weekday) % 7)


def _mention(kind: str, m: re.Match[str], published: date) -> tuple[date, Precision, bool] | None:
    groups = m.groupdict()
    if kind in ("yesterday", "today", "last_week"):
        shift = {"yesterday": 1, "today": 0, "last_week": 7}[kind]
        precision: Precision = "week" if kind == "last_week" else "day"
        return published - timedelta(days=shift), precision, False
    if kind == "weekday":
        weekday = _weekday_lookup()[groups["wname"].lower()]
        return _last_weekday(weekday, published), "day", False
    year = int(groups["year"]) if groups.get("year") else None
    month = int(groups["month"]) if groups.get("month") else None
    if month is None:
        month = _month_lookup()[groups["mname"].lower().rstrip(".")]
    if kind in ("month_year", "year_month"):
        value = _with_year(month, 1, year, published)
        return (value, "month", True) if value else None
    day = int(groups["day"])
    if not 1 <= day <= 31:
        return None
    value = _with_year(month, day, year, published)
    return (value, "day", True) if value else None


def find_dates(title: str, text: str, published: date) -> list[DateMention]:
    """Every date expression of an article, resolved against its publication day."""
    body = f"{title}\n{text}"
    title_end = len(title)
    taken: list[tuple[int, int]] = []
    out: list[DateMention] = []
    for kind, pattern in _patterns():
        for m in pattern.finditer(body):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            if "mname" in m.groupdict() and not _plausible_month(m, kind):
                continue
            resolved = _mention(kind, m, published)
            if resolved is None:
                continue
            taken.append((m.start(), m.end()))
            value, precision, explicit = resolved
            out.append(DateMention(value, precision, m.start(), explicit, m.start() < title_end))
    return sorted(out, key=lambda d: d.offset)


def _plausible_month(m: re.Match[str], kind: str) -> bool:
    """Reject words that are month names only sometimes (Kazakh қазан is also Kazan, cauldron)."""
    written = m.group("mname")
    name = written.lower()
    ambiguous = set(_tables()["ambiguous_months"])
    if name not in ambiguous and not any(name.startswith(w) for w in ambiguous if _is_kk(w)):
        return True
    if written.isascii():
        return written[0].isupper()  # "may", "mar": English month names are capitalised
    return kind in ("day_month", "year_day_month") or bool(m.groupdict().get("year"))


def _is_kk(word: str) -> bool:
    return not word.isascii()


def pick_event_date(mentions: list[DateMention], published: date) -> EventDate:
    """The date an article reports: the best-placed recent mention, else the publication day.

    Scores each mention by where it stands (title, first sentence, lead) and by how close
    before publication it is; later-than-publication dates (announcements) and dates long
    before publication (background) rank low, so an analysis weeks later that names only
    the event's date still gets that date.
    """
    best: tuple[float, DateMention] | None = None
    for mention in mentions:
        score = _mention_score(mention, published)
        if best is None or score > best[0]:
            best = (score, mention)
    if best is None or best[0] < 0:
        return EventDate(published, "day", stated=False)
    return EventDate(best[1].value, best[1].precision, stated=True)


def _mention_score(mention: DateMention, published: date) -> float:
    position = 1.2 if mention.in_title else max(0.1, 1.0 - mention.offset / 1500)
    age = (published - mention.value).days
    if age < -FUTURE_SLACK_DAYS:
        return -1.0
    if age <= RECENT_DAYS:
        recency = 0.6
    elif age <= ANALYSIS_DAYS:
        recency = 0.0
    else:
        recency = -1.5  # background ("in December 2011 ..."), not what the article reports
    precision = {"day": 0.3, "week": 0.0, "month": -0.1}[mention.precision]
    return position + recency + precision + (0.1 if mention.explicit else 0.0)


def event_date(title: str, text: str, published: datetime) -> tuple[EventDate, list[DateMention]]:
    """The article's event date and all its date mentions."""
    day = local_date(published)
    mentions = find_dates(title or "", text or "", day)
    return pick_event_date(mentions, day), mentions
