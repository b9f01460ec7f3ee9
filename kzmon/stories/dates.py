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
    end: int = 0  # offset just after the expression
    attributed: bool = False  # "said on June 8": when something was said, not done


@dataclass(frozen=True)
class EventDate:
    """The date an article reports, with its precision and whether the text stated it."""

    value: date
    precision: Precision
    stated: bool  # False: no date expression, the publication date stands in


def span_of(value: date, precision: str) -> tuple[date, date]:
    """The days a date of some precision covers (a week from its Monday, a whole month)."""
    if precision == "week":
        return value, value + timedelta(days=6)
    if precision == "month":
        nxt = date(value.year + value.month // 12, value.month % 12 + 1, 1)
        return value, nxt - timedelta(days=1)
    return value, value


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


_KK_SUFFIX = r"(?:[а-яәғқңөұүһі]{0,6})"
_YEAR_WORD = r"(?:\s*(?:года|год|г\.|жылғы|жылы|жыл|ж\.))?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|-?(?:ші|шы|сі|сы|і|ы))?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DASH = r"\s*[-–—]\s*"


@cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    """(kind, pattern) in precedence order: an expression taken by an earlier pattern is not
    read again by a later one ("в ночь на 8 февраля" is not also "8 февраля")."""
    t = _tables()
    month = _alternation(list(_month_lookup()))
    weekday = _alternation(list(_weekday_lookup()))
    rel = {key: _alternation(words) for key, words in t["relative"].items()}
    night_ru = _alternation(t["night_before"]["ru"])
    night_kk = _alternation(t["night_before"]["kk_after"])
    month_in_ru = _alternation(t["months_in_ru"])
    prev = t["previous_year"]
    days_ago = _alternation([w for words in t["days_ago"].values() for w in words])
    tail = rf"{_KK_SUFFIX}\.?(?:,?\s+{_YEAR}{_YEAR_WORD})?"
    i = re.IGNORECASE
    return [
        ("iso", re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b")),
        (
            "dotted",
            re.compile(r"\b(?P<day>[0-3]?\d)\.(?P<month>[01]\d)\.(?P<year>(?:19|20)\d\d)\b"),
        ),
        # в ночь на 8 февраля / в ночь с 7 на 8 февраля
        (
            "night_day_month",
            re.compile(
                rf"(?<!\w)(?:{night_ru})\s+(?:с\s+(?P<day0>[0-3]?\d)\s+на\s+)?{_DAY}\s+"
                rf"(?P<mname>{month}){tail}",
                i,
            ),
        ),
        # 8 ақпанға қараған түні
        (
            "night_day_month",
            re.compile(rf"\b{_DAY}\s+(?P<mname>{month}){_KK_SUFFIX}\s+(?:{night_kk})", i),
        ),
        # 2011 жылғы 31 қазанда / 2011 ж. 31 қазан
        (
            "year_day_month",
            re.compile(rf"\b{_YEAR}{_YEAR_WORD}\s+{_DAY}\s*(?P<mname>{month}){_KK_SUFFIX}\b", i),
        ),
        # 5-6 июня / 7–8 ақпанда / 7-8 February 2020 (the first day)
        (
            "day_month",
            re.compile(
                rf"\b{_DAY}{_DASH}[0-3]?\d{_KK_SUFFIX}\s+(?:of\s+)?(?P<mname>{month}){tail}", i
            ),
        ),
        # 5 июня 2016 года / 31 October 2011 / 31 қазанда
        ("day_month", re.compile(rf"\b{_DAY}\s+(?:of\s+)?(?P<mname>{month}){tail}", i)),
        # February 7-8, 2020 / October 31, 2011 / Oct. 31
        (
            "month_day",
            re.compile(
                rf"\b(?P<mname>{month})\.?\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
                rf"(?:{_DASH}[0-3]?\d)?\b(?:,?\s+{_YEAR})?",
                i,
            ),
        ),
        # June 2016 / в июне 2016 года / 2016 жылғы маусымда
        ("month_year", re.compile(rf"\b(?P<mname>{month}){_KK_SUFFIX}\.?,?\s+{_YEAR}\b", i)),
        (
            "year_month",
            re.compile(rf"\b{_YEAR}\s*(?:жылғы|жылы|ж\.)\s+(?P<mname>{month}){_KK_SUFFIX}\b", i),
        ),
        # last December / в декабре прошлого года / былтыр желтоқсанда
        (
            "previous_month",
            re.compile(
                rf"(?:\b(?:{_alternation(prev['en'])})\s+(?P<mname>{month})\b(?!\s+\d)"
                rf"|(?<!\w)в\s+(?P<mname_ru>{month_in_ru})\s+(?:{_alternation(prev['ru'])})"
                rf"|(?<!\w)(?:{_alternation(prev['kk'])})\s+(?P<mname_kk>{month}){_KK_SUFFIX}(?!\w))",
                i,
            ),
        ),
        # in June / в июне / маусым айында (the most recent such month)
        (
            "bare_month",
            re.compile(
                rf"(?:\bin\s+(?P<mname>{month})\b(?!\s+\d)"
                rf"|(?<!\w)в\s+(?P<mname_ru>{month_in_ru})(?!\s+\d)(?!\w)"
                rf"|(?<!\w)(?P<mname_kk>{month})\s+айында)",
                i,
            ),
        ),
        # в ночь на субботу / в ночь с пятницы на субботу / сенбіге қараған түні
        (
            "night_weekday",
            re.compile(
                rf"(?<!\w)(?:{night_ru})\s+(?:с\s+(?P<wname0>{weekday})\s+на\s+)?"
                rf"(?P<wname>{weekday})(?!\w)"
                rf"|(?<!\w)(?P<wname_kk>{weekday}){_KK_SUFFIX}\s+(?:{night_kk})",
                i,
            ),
        ),
        ("weekday", re.compile(rf"(?<!\w)(?P<wname>{weekday}){_KK_SUFFIX}(?!\w)", i)),
        (
            "days_ago",
            re.compile(rf"(?<!\w)(?P<n>\d{{1,2}}|[^\W\d_]+)\s+(?:{days_ago})(?!\w)", i),
        ),
        *[
            (key, re.compile(rf"(?<!\w)(?:{rel[key]})(?!\w)", i))
            for key in (
                "day_before_yesterday",
                "yesterday",
                "today",
                "last_week",
                "this_week",
                "last_month",
                "this_month",
            )
        ],
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


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month_start(day: date, back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


_RELATIVE: dict[str, tuple[int, Precision]] = {
    "today": (0, "day"),
    "yesterday": (1, "day"),
    "day_before_yesterday": (2, "day"),
}


def _relative(kind: str, published: date) -> tuple[date, Precision] | None:
    if kind in _RELATIVE:
        back, precision = _RELATIVE[kind]
        return published - timedelta(days=back), precision
    if kind == "last_week":
        return _monday(published) - timedelta(days=7), "week"
    if kind == "this_week":
        return _monday(published), "week"
    if kind == "last_month":
        return _month_start(published, 1), "month"
    if kind == "this_month":
        return _month_start(published), "month"
    return None


def _month_of(groups: dict[str, str | None]) -> int | None:
    if groups.get("month"):
        return int(str(groups["month"]))
    for name in ("mname", "mname_ru", "mname_kk"):
        if groups.get(name):
            return _month_lookup()[str(groups[name]).lower().rstrip(".")]
    return None


def _recent_month(month: int, published: date, back_years: int = 0) -> date:
    """The first day of the latest such month not after publication (a year further back)."""
    year = published.year if month <= published.month else published.year - 1
    return date(year - back_years, month, 1)


@cache
def _future_cue() -> re.Pattern[str]:
    words = _alternation(_tables()["future_weekday"])
    return re.compile(rf"(?<!\w)(?:{words})(?:\s+[^\W\d_]+){{0,2}}\s*$", re.IGNORECASE)


def _weekday_mention(
    kind: str, groups: dict[str, str | None], published: date, before: str = ""
) -> date:
    name = groups.get("wname0") or groups.get("wname") or groups.get("wname_kk") or ""
    weekday = _weekday_lookup()[name.lower()]
    if _future_cue().search(before):
        return published + timedelta(days=(weekday - published.weekday()) % 7 or 7)
    day = _last_weekday(weekday, published)
    night = kind == "night_weekday" and not groups.get("wname0")
    return day - timedelta(days=1) if night else day


def _mention(kind: str, m: re.Match[str], published: date) -> tuple[date, Precision, bool] | None:
    groups = m.groupdict()
    relative = _relative(kind, published)
    if relative is not None:
        return relative[0], relative[1], False
    if kind in ("weekday", "night_weekday"):
        before = m.string[max(0, m.start() - 24) : m.start()]
        return _weekday_mention(kind, groups, published, before), "day", False
    if kind == "days_ago":
        n = _count_word(str(groups["n"]))
        return (published - timedelta(days=n), "day", False) if n and n <= 31 else None
    year = int(groups["year"]) if groups.get("year") else None
    month = _month_of(groups)
    if month is None:
        return None
    if kind in ("bare_month", "previous_month"):
        back = 1 if kind == "previous_month" else 0
        return _recent_month(month, published, back), "month", True
    if kind in ("month_year", "year_month"):
        value = _with_year(month, 1, year, published)
        return (value, "month", True) if value else None
    day = int(groups["day0"] or 0) if groups.get("day0") else int(groups["day"])
    if not 1 <= day <= 31:
        return None
    value = _with_year(month, day, year, published)
    if value is None:
        return None
    if kind == "night_day_month" and not groups.get("day0"):
        value -= timedelta(days=1)
    return value, "day", True


def _count_word(word: str) -> int | None:
    """A small number in digits or words ("two", "два", "екі") for "N days ago"."""
    if word.isdigit():
        return int(word)
    from kzmon.stories.numbers import small_number

    return small_number(word.lower())


#: Kinds whose expressions hold a day number (masked before casualty numbers are read).
_DAY_KINDS = frozenset(
    {"iso", "dotted", "night_day_month", "year_day_month", "day_month", "month_day"}
)


def date_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the dates with a day number in a text ("on August 26", "5-6 июня")."""
    spans: list[tuple[int, int]] = []
    for kind, pattern in _patterns():
        if kind not in _DAY_KINDS:
            continue
        for m in pattern.finditer(text):
            if _plausible_month(m, kind) and not any(
                m.start() < end and start < m.end() for start, end in spans
            ):
                spans.append((m.start(), m.end()))
    return spans


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
            if not _plausible_month(m, kind):
                continue
            resolved = _mention(kind, m, published)
            if resolved is None:
                continue
            taken.append((m.start(), m.end()))
            value, precision, explicit = resolved
            out.append(
                DateMention(
                    value,
                    precision,
                    m.start(),
                    explicit,
                    m.start() < title_end,
                    end=m.end(),
                    attributed=_attributed(body, m.start(), m.end()),
                )
            )
    return sorted(out, key=lambda d: d.offset)


@cache
def _attribution_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    words = _tables()["attribution"]
    before = re.compile(
        rf"(?<!\w)(?:{_alternation(words['before'])})(?:\s+[^\W\d_]+){{0,2}}\s*$", re.IGNORECASE
    )
    after = re.compile(rf"^\S*\s+(?:{_alternation(words['after'])})(?!\w)", re.IGNORECASE)
    return before, after


#: Characters before (after) a date searched for a speech verb.
ATTRIBUTION_WINDOW = 32


def _attributed(body: str, start: int, end: int) -> bool:
    """True when the date tells when something was said ("said on June 8", "сообщили в МВД в
    воскресенье", "ҰҚК 15 қазанда мәлімдеді"), not when it happened."""
    before, after = _attribution_patterns()
    head = body[max(0, start - ATTRIBUTION_WINDOW) : start]
    head = head.rsplit(".", 1)[-1]
    if before.search(head):
        return True
    return bool(after.search(body[end : end + ATTRIBUTION_WINDOW]))


def _plausible_month(m: re.Match[str], kind: str) -> bool:
    """Reject words that are month names only sometimes (Kazakh қазан is also Kazan, cauldron)."""
    groups = m.groupdict()
    written = groups.get("mname") or groups.get("mname_ru") or groups.get("mname_kk")
    if not written:
        return True
    name = written.lower()
    ambiguous = set(_tables()["ambiguous_months"])
    if name not in ambiguous and not any(name.startswith(w) for w in ambiguous if _is_kk(w)):
        return True
    if written.isascii():
        return written[0].isupper()  # "may", "mar": English month names are capitalised
    if kind in ("bare_month", "previous_month"):
        return kind == "previous_month" or bool(groups.get("mname_kk"))
    return kind in ("day_month", "year_day_month", "night_day_month") or bool(groups.get("year"))


def _is_kk(word: str) -> bool:
    return not word.isascii()


def pick_event_date(mentions: list[DateMention], published: date) -> EventDate:
    """The date an article reports: the best-placed recent mention, else the publication day.

    Scores each mention by where it stands (title, first sentence, lead) and by how close
    before publication it is; later-than-publication dates (announcements) and dates long
    before publication (background) rank low, so an analysis weeks later that names only
    the event's date still gets that date. A date of a statement ("said on June 8") ranks
    below a date of the event itself.
    """
    best: tuple[float, DateMention] | None = None
    for mention in mentions:
        score = _mention_score(mention, published)
        if best is None or score > best[0]:
            best = (score, mention)
    if best is None or best[0] < 0:
        return EventDate(published, "day", stated=False)
    mention = best[1]
    # "сообщили в МВД в воскресенье": only when it was said; a weak date, no veto.
    stated = mention.explicit or not mention.attributed
    return EventDate(mention.value, mention.precision, stated=stated)


#: How much a statement date ("said on June 8") loses against an event date: about what a
#: mention loses by standing a paragraph later (700 characters), so "said on June 8 that the
#: attacks on June 5 ..." gives June 5, and a lone "said on October 17 it had detained"
#: still gives October 17.
ATTRIBUTION_PENALTY = 0.5


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
    attributed = ATTRIBUTION_PENALTY if mention.attributed else 0.0
    return position + recency + precision + (0.1 if mention.explicit else 0.0) - attributed


def event_date(title: str, text: str, published: datetime) -> tuple[EventDate, list[DateMention]]:
    """The article's event date and all its date mentions."""
    day = local_date(published)
    mentions = find_dates(title or "", text or "", day)
    return pick_event_date(mentions, day), mentions
