"""Dates: parse what pages, feeds and URLs give into timezone-aware ISO 8601 strings.

Order of trust (see ``pick_published``): the page's own metadata (outlet rules, meta tags,
JSON-LD), then the feed's date, then trafilatura's (htmldate's) date found in the page markup,
then a date in the URL.
"""

from __future__ import annotations

import logging
import re
import warnings
from datetime import UTC, datetime

from dateutil import parser as dateparser

LOGGER = logging.getLogger(__name__)

# /2016/07/19/ or /2016-07-19 in article URLs (The Moscow Times, Global Voices, WordPress sites).
_URL_DATE_RE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|-|$)"
)
# Zone abbreviations seen in news metadata (dateutil knows only UTC/GMT by itself); an
# unknown abbreviation leaves the value naive, which is then taken as UTC like any zoneless one.
_TZINFOS = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "BST": 3600,
    "CET": 3600,
    "CEST": 7200,
    "MSK": 3 * 3600,
    "ALMT": 5 * 3600,
    "EST": -5 * 3600,
    "EDT": -4 * 3600,
    "CST": -6 * 3600,
    "CDT": -5 * 3600,
    "PST": -8 * 3600,
    "PDT": -7 * 3600,
}
# Plausible range: nothing before the web, nothing more than a day ahead of the clock.
_MIN_YEAR = 1990


def to_iso(value: object) -> str | None:
    """A timezone-aware ISO 8601 string for a date-like value, or None when it cannot be parsed.

    Values without a timezone are taken as UTC: outlets' metadata that omits the zone is
    mostly UTC, and a fixed rule keeps records comparable (a date-only value becomes midnight UTC).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            parsed = _parse(text)
        except (ValueError, OverflowError, TypeError) as err:
            LOGGER.debug("unparseable date %r: %s", text, err)
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # no zone in the source: assume UTC (see docstring)
    if not _plausible(parsed):
        return None
    return parsed.isoformat()


#: "June 11th, 2009 @ 10:57 UTC" (blog bylines): the "@" between date and time
_AT_SIGN = re.compile(r"\s+@\s+")


def _parse(text: str) -> datetime:
    text = _AT_SIGN.sub(" ", text)
    with warnings.catch_warnings():
        # "tzname XYZ identified but not understood": the value stays naive and becomes UTC.
        warnings.simplefilter("ignore", dateparser.UnknownTimezoneWarning)
        return dateparser.parse(text, tzinfos=_TZINFOS)


def _plausible(value: datetime) -> bool:
    now = datetime.now(UTC)
    return value.year >= _MIN_YEAR and (value - now).days < 1


def date_from_url(url: str | None) -> str | None:
    """The date in an article URL such as ``/2011/11/09/slug``, as midnight UTC, or None."""
    match = _URL_DATE_RE.search(url or "")
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return to_iso(datetime(year, month, day, tzinfo=UTC))
    except ValueError:
        return None


def first_date(candidates: list[object]) -> str | None:
    """The first candidate that parses, as ISO 8601, or None."""
    for candidate in candidates:
        iso = to_iso(candidate)
        if iso:
            return iso
    return None
