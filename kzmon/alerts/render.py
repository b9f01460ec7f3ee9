"""Alert entries and the email that carries them (multipart text + HTML from Jinja2).

Every string that comes from an article is untrusted: it is stripped of control characters
(CR/LF included, for one-line fields) and of bidi controls and zero-width characters (which
spoof titles and file names: `kzmon.textsafety`), HTML-escaped by Jinja2's autoescaping in
the HTML part, and the only markup we add ourselves is ``<mark>`` around highlighted terms,
inserted *after* escaping (Elasticsearch marks them with control-character sentinels). Both
template environments strip invisible characters from every value they print, whatever the
template; links keep them percent-encoded. Headers are built by `email.message.EmailMessage`,
which refuses CR/LF in header values, and `textsafety.neutralise_message` cleans headers and
attachment names of the finished message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from kzmon.alerts.query import MARK_END, MARK_START
from kzmon.alerts.watchlists import Watchlist
from kzmon.textsafety import neutralise_message, neutralise_url, strip_invisible

LOGGER = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SNIPPET_FALLBACK_CHARS = 240
MAX_TAGS = 8
MAX_TERMS = 8

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SPACE = re.compile(r"\s+")
_MARKED = re.compile(re.escape(MARK_START) + r"(.*?)" + re.escape(MARK_END), re.DOTALL)


@dataclass
class Source:
    """One outlet's copy of a story."""

    outlet: str
    url: str
    date: str
    title: str


@dataclass
class Entry:
    """One story in an alert mail (several sources when it was syndicated)."""

    doc_ids: list[str]
    title: str
    title_html: Markup
    url: str
    outlet: str
    date: str
    tags: list[str]
    terms: list[str]
    snippet_text: str
    snippet_html: Markup
    sources: list[Source] = field(default_factory=list)
    story_id: str = ""
    outlets: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    fatalities: str = ""
    growth: list[str] = field(default_factory=list)


def one_line(value: Any) -> str:
    """An untrusted value as one line of plain text: no control, bidi or zero-width
    characters, no CR/LF."""
    text = _CONTROL.sub(" ", strip_invisible(str(value or "")))
    return _SPACE.sub(" ", text).strip()


def _clean(value: str) -> str:
    return _SPACE.sub(" ", _CONTROL.sub(" ", strip_invisible(value)))


def marked_html(fragment: str) -> Markup:
    """Escape a highlight fragment, then turn the ES sentinels into <mark> tags."""
    parts = []
    last = 0
    for match in _MARKED.finditer(fragment):
        parts.append(escape(_clean(fragment[last : match.start()])))
        parts.append(Markup("<mark>%s</mark>") % _clean(match.group(1)))
        last = match.end()
    parts.append(escape(_clean(fragment[last:])))
    return Markup(Markup("").join(parts).strip())


def unmarked(fragment: str) -> str:
    """A highlight fragment as one line of plain text without the highlight sentinels."""
    return one_line(_MARKED.sub(lambda m: m.group(1), fragment))


def marked_text(fragment: str) -> str:
    """A highlight fragment as plain text, highlighted terms in *asterisks*."""
    return one_line(_MARKED.sub(lambda m: f"*{m.group(1)}*", fragment))


def marked_terms(fragments: list[str]) -> list[str]:
    """The distinct highlighted terms of some fragments, in order of appearance."""
    seen: dict[str, str] = {}
    for fragment in fragments:
        for match in _MARKED.finditer(fragment):
            term = one_line(match.group(1))
            seen.setdefault(term.casefold(), term)
    return list(seen.values())[:MAX_TERMS]


def safe_url(value: Any) -> str:
    """An article link if it is http(s); anything else (``javascript:`` ...) becomes empty."""
    url = neutralise_url(_SPACE.sub(" ", _CONTROL.sub(" ", str(value or ""))).strip())
    return url if url.lower().startswith(("http://", "https://")) else ""


def _date(article: dict[str, Any]) -> str:
    value = article.get("published_at") or article.get("indexed_at") or ""
    return one_line(value)[:10]


def matched_tags(article: dict[str, Any], watchlist: Watchlist) -> list[str]:
    """Names of the article's tags that the watchlist filters on (else its first tags)."""
    names = {e.get("id"): e.get("name") for e in article.get("entities") or [] if e.get("id")}
    wanted = watchlist.entity_ids()
    entity_ids = list(article.get("entity_ids") or [])
    incidents = list(article.get("incident_types") or [])
    hits = [i for i in entity_ids if i in wanted]
    hits += [t for t in incidents if t in watchlist.filters.incident_types]
    if not hits:
        hits = entity_ids[:MAX_TAGS] + incidents
    return [one_line(names.get(tag) or tag) for tag in hits][:MAX_TAGS]


def bounded_snippet(text: str, limit: int) -> str:
    """At most `limit` characters of text, ending on a sentence boundary when one is in the
    second half, else on a word boundary (with "…"); never in the middle of a word."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    sentence_end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if sentence_end >= limit // 2:
        return head[: sentence_end + 1]
    space = head.rfind(" ")
    return (head[:space] if space > 0 else head[:limit]).rstrip(" ,;:—-") + " …"


def build_entry(
    story: list[dict[str, Any]], watchlist: Watchlist, story_facts: dict[str, Any] | None = None
) -> Entry:
    """One entry from the hits of one story (the first hit is the main copy).

    Each hit is ``{**_source, "highlight": {...}}`` as returned by the search;
    `story_facts` (from the stories index: outlets, languages, fatalities) fills the story
    lines, else they come from the hits.
    """
    main = story[0]
    highlight = main.get("highlight") or {}
    text_fragments = list(highlight.get("text") or [])
    title_fragments = list(highlight.get("title") or [])
    title_src = title_fragments[0] if title_fragments else str(main.get("title") or "")
    if text_fragments:
        snippet_text = " … ".join(marked_text(f) for f in text_fragments)
        snippet_html = Markup(" … ").join(marked_html(f) for f in text_fragments)
    else:
        fallback = bounded_snippet(one_line(main.get("text")), SNIPPET_FALLBACK_CHARS)
        snippet_text, snippet_html = fallback, escape(fallback)
    facts = story_facts or {}
    return Entry(
        doc_ids=[hit["doc_id"] for hit in story],
        title=unmarked(title_src) or "(untitled)",
        title_html=marked_html(title_src) or Markup("(untitled)"),
        url=safe_url(main.get("url") or main.get("canonical_url")),
        outlet=one_line(main.get("outlet_name") or main.get("outlet")),
        date=_date(main),
        tags=matched_tags(main, watchlist),
        terms=marked_terms(title_fragments + text_fragments),
        snippet_text=snippet_text,
        snippet_html=snippet_html,
        sources=[_source(hit) for hit in story],
        story_id=one_line(main.get("story_id")),
        outlets=[one_line(o) for o in facts.get("outlets") or _distinct(story, "outlet")],
        languages=[one_line(x) for x in facts.get("languages") or _distinct(story, "language")],
        fatalities=_range_text(facts.get("fatalities")),
    )


def _distinct(hits: list[dict[str, Any]], *names: str) -> list[str]:
    values = []
    for hit in hits:
        value = next((hit.get(n) for n in names if hit.get(n)), None)
        if value and value not in values:
            values.append(str(value))
    return values


def _range_text(value: Any) -> str:
    if not isinstance(value, dict) or value.get("max") is None:
        return ""
    lo, hi = value.get("min"), value.get("max")
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def _source(hit: dict[str, Any]) -> Source:
    return Source(
        outlet=one_line(hit.get("outlet_name") or hit.get("outlet")),
        url=safe_url(hit.get("url") or hit.get("canonical_url")),
        date=_date(hit),
        title=one_line(hit.get("title")),
    )


def subject(watchlist: Watchlist, count: int, grown: int = 0) -> str:
    """``<watchlist name>: N new story/stories`` (``, M grew`` in a digest with grown ones)."""
    noun = "story" if count == 1 else "stories"
    head = f"{one_line(watchlist.name)}: {count} new {noun}"
    if grown and not count:
        return f"{one_line(watchlist.name)}: {grown} {'story' if grown == 1 else 'stories'} grew"
    return f"{head}, {grown} grew" if grown else head


def update_subject(watchlist: Watchlist, entry: Entry) -> str:
    """``<watchlist name>: story grew: <title> (+kk, +Azattyq)``."""
    growth = ", ".join(entry.growth)
    return one_line(f"{watchlist.name}: story grew: {entry.title[:80]} ({growth})")


def visible(value: Any) -> Any:
    """Jinja2 ``finalize``: every printed value without invisible characters (Markup stays
    Markup: removing characters from escaped text cannot create markup)."""
    if isinstance(value, Markup):
        return Markup(strip_invisible(str(value)))
    if isinstance(value, str):
        return strip_invisible(value)
    return value if value is None else strip_invisible(str(value))


def _environments() -> tuple[Environment, Environment]:
    loader = FileSystemLoader(TEMPLATES_DIR)
    html = Environment(
        loader=loader,
        autoescape=select_autoescape(["html", "html.j2"], default=True),
        undefined=StrictUndefined,
        finalize=visible,
    )
    text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined, finalize=visible)
    return text, html


def build_message(
    watchlist: Watchlist,
    entries: list[Entry],
    *,
    mail_from: str,
    discover_url: str,
    now: datetime,
    digest: bool = False,
    update: bool = False,
    grown: list[Entry] | None = None,
) -> EmailMessage:
    """The multipart (text + HTML) alert mail for a watchlist and its new entries.

    ``update=True`` is the "story grew" mail of one story (its entry lists what is new);
    `grown` are the stories mailed before that grew, listed after the new ones (digests).
    """
    grown = grown or []
    text_env, html_env = _environments()
    context = {
        "watchlist": watchlist,
        "watchlist_name": one_line(watchlist.name),
        "entries": entries,
        "discover_url": discover_url,
        "digest": digest,
        "update": update,
        "grown": grown,
        "generated_at": now.strftime("%Y-%m-%d %H:%M %Z").strip(),
    }
    msg = EmailMessage()
    msg["Subject"] = (
        update_subject(watchlist, entries[0])
        if update
        else subject(watchlist, len(entries), len(grown))
    )
    msg["From"] = mail_from
    msg["To"] = ", ".join(watchlist.recipients)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain="kzmon.localhost")
    msg["X-Kzmon-Watchlist"] = watchlist.id
    if update:
        msg["X-Kzmon-Story-Update"] = entries[0].story_id
    msg.set_content(text_env.get_template("alert.txt.j2").render(context))
    msg.add_alternative(html_env.get_template("alert.html.j2").render(context), subtype="html")
    return neutralise_message(msg)
