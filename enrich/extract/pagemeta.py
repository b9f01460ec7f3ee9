"""Metadata read straight from the page tree: rule XPaths, meta tags, JSON-LD, canonical, lang.

trafilatura's own metadata (title, author, description, date) complements this in ``core``;
this module reads the precise values (full timestamps with zones) that outlets put in their
``<meta>`` tags and JSON-LD, which trafilatura reduces to a day.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_meta_json
from trafilatura.settings import Document

from kzmon.textsafety import strip_invisible

LOGGER = logging.getLogger(__name__)

# Meta tags (property, name or itemprop value, lower-cased) that carry each field.
_PUBLISHED_KEYS = frozenset(
    {
        "article:published_time",
        "og:article:published_time",
        "datepublished",
        "pubdate",
        "parsely-pub-date",
        "sailthru.date",
        "dc.date.issued",
        "dcterms.created",
    }
)
_MODIFIED_KEYS = frozenset(
    {"article:modified_time", "og:updated_time", "datemodified", "dcterms.modified"}
)
_SECTION_KEYS = frozenset({"article:section", "section"})
_LANG_KEYS = frozenset({"og:locale", "language", "content-language"})
_JSON_LD = etree.XPath('//script[@type="application/ld+json"]/text()')
_ARTICLE_TYPES = re.compile(r"(Article|Posting|Report|Blog|WebPage)$")
_SPACE_RE = re.compile(r"\s+")


@dataclass
class JsonLd:
    """What we read from the page's JSON-LD article objects."""

    published: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    section: str | None = None
    headline: str | None = None
    #: names of the site: the articles' ``publisher``, ``WebSite``/``Organization`` objects
    site_names: list[str] = field(default_factory=list)


def clean_space(text: str | None) -> str:
    """Remove bidi controls and zero-width characters (`kzmon.textsafety`), collapse runs of
    whitespace to one space and strip.

    Every string a record gets from the page (title, authors, section, captions, paragraphs)
    passes here, so stored text can neither spoof what a reader sees nor hide a word from
    search (``Aty\u200brau``).
    """
    return _SPACE_RE.sub(" ", strip_invisible(text or "")).strip()


def xpath_texts(tree: HtmlElement, expressions: list[etree.XPath]) -> list[str]:
    """The non-empty texts of the first expression that yields any (elements → their text)."""
    for expr in expressions:
        texts = [t for t in (_node_text(n) for n in run_xpath(tree, expr)) if t]
        if texts:
            return texts
    return []


def run_xpath(tree: HtmlElement, expr: etree.XPath) -> list[Any]:
    """The XPath's results as a list; an empty list (and a warning) when it fails."""
    try:
        result = expr(tree)
    except etree.XPathError as err:
        LOGGER.warning("rule XPath %s failed: %s", expr.path, err)
        return []
    return result if isinstance(result, list) else [result]


def _node_text(node: Any) -> str:
    if isinstance(node, str):
        return clean_space(node)
    if isinstance(node, etree._Element):
        return clean_space(etree.tostring(node, method="text", encoding="unicode", with_tail=False))
    return ""


@dataclass
class HeadMeta:
    """Values of the page's meta and link tags, in page order."""

    published: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    section: str | None = None
    canonical: str | None = None
    languages: list[str] = field(default_factory=list)


def read_head(tree: HtmlElement, url: str | None) -> HeadMeta:
    """Dates, section, canonical URL and declared languages, in one pass over meta/link tags."""
    head = HeadMeta()
    _add_language(head, tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang"))
    for element in tree.iter("meta", "link", "time"):
        if element.tag == "link":
            _read_link(head, element, url)
        elif element.tag == "time":
            if element.get("itemprop") == "datePublished" and element.get("datetime"):
                head.published.append(clean_space(element.get("datetime")))
        else:
            _read_meta(head, element)
    if head.canonical is None:
        head.canonical = url
    return head


def _read_link(head: HeadMeta, element: HtmlElement, url: str | None) -> None:
    href = clean_space(element.get("href"))
    if head.canonical is not None or not href or href.startswith(("javascript:", "#")):
        return
    if "canonical" in (element.get("rel") or "").lower().split():
        head.canonical = urljoin(url or "", href)


def _read_meta(head: HeadMeta, element: HtmlElement) -> None:
    key = (
        element.get("property")
        or element.get("name")
        or element.get("itemprop")
        or element.get("http-equiv")
        or ""
    ).lower()
    content = clean_space(element.get("content"))
    if not key or not content:
        return
    if key in _PUBLISHED_KEYS:
        head.published.append(content)
    elif key in _MODIFIED_KEYS:
        head.modified.append(content)
    elif key in _SECTION_KEYS:
        head.section = head.section or content
    elif key in _LANG_KEYS:
        _add_language(head, content)
    elif key == "og:url" and head.canonical is None and content.startswith("http"):
        head.canonical = content


def _add_language(head: HeadMeta, value: str | None) -> None:
    """Add the ISO 639-1 part of a language tag or locale (``ru-RU``, ``kk_KZ``)."""
    code = clean_space(value).replace("_", "-").split("-")[0].lower()
    if len(code) == 2 and code.isalpha() and code not in head.languages:
        head.languages.append(code)


def read_json_ld(tree: HtmlElement) -> JsonLd:
    """Dates, authors, section and headline of the article objects in the page's JSON-LD."""
    found = JsonLd()
    for raw in _JSON_LD(tree):
        try:
            data = json.loads(raw)
        except ValueError:
            LOGGER.debug("invalid JSON-LD block skipped")
            continue
        for obj in _json_ld_objects(data):
            _merge_json_ld(found, obj)
        found.site_names.extend(n for n in _site_names(data) if n not in found.site_names)
    return found


_SITE_TYPES = frozenset({"WebSite", "Organization", "NewsMediaOrganization"})


def _site_names(data: Any, depth: int = 0) -> Iterator[str]:
    """Names of the site in a JSON-LD value: publishers, WebSite and Organization objects."""
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _site_names(item, depth + 1)
    elif isinstance(data, dict):
        kinds = data.get("@type", "")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        is_site = any(k in _SITE_TYPES for k in kinds if isinstance(k, str))
        if is_site and isinstance(data.get("name"), str) and clean_space(data["name"]):
            yield clean_space(data["name"])
        for key in ("@graph", "publisher", "isPartOf"):
            if key in data:
                yield from _site_names(data[key], depth + 1)


def _json_ld_objects(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _json_ld_objects(item)
    elif isinstance(data, dict):
        if "@graph" in data:
            yield from _json_ld_objects(data["@graph"])
        kinds = data.get("@type", "")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds):
            yield data


def _merge_json_ld(found: JsonLd, obj: dict[str, Any]) -> None:
    if isinstance(obj.get("datePublished"), str):
        found.published.append(obj["datePublished"])
    if isinstance(obj.get("dateModified"), str):
        found.modified.append(obj["dateModified"])
    found.authors.extend(a for a in _author_names(obj.get("author")) if a not in found.authors)
    section = obj.get("articleSection")
    if isinstance(section, list):
        section = section[0] if section else None
    if isinstance(section, str) and clean_space(section) and not found.section:
        found.section = clean_space(section)
    if isinstance(obj.get("headline"), str) and not found.headline:
        found.headline = clean_space(obj["headline"])


def _author_names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [clean_space(value)] if clean_space(value) else []
    if isinstance(value, dict):
        if value.get("@type") == "Organization":
            return []
        return _author_names(value.get("name"))
    if isinstance(value, list):
        return [name for item in value for name in _author_names(item)]
    return []


def trafilatura_metadata(tree: HtmlElement) -> Document:
    """trafilatura's meta-tag title, author and description, from its cheaper metadata steps.

    ``trafilatura.metadata.extract_metadata`` also scans for categories, tags, licence, the
    date and (when meta tags name no author) the body for bylines: together ~30% of a whole
    extraction. We read dates, section and canonical URL ourselves, outlets' bylines come from
    their rules, and only the meta-tag title, the meta-tag/JSON-LD author and the description
    are needed here. The title heuristics over headings and ``<title>`` are ours
    (``title.choose_title``: they must never return the site's name).
    """
    document = examine_meta(tree)
    if document.author and " " not in document.author:
        document.author = None  # a single word is a handle or a site name (as trafilatura does)
    try:
        document = extract_meta_json(tree, document)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        LOGGER.debug("trafilatura's JSON-LD reader failed: %s", err)
    document.clean_and_trim()
    return document


def markup_date(tree: HtmlElement) -> str | None:
    """htmldate's date from the page markup only (fast mode, URL not consulted), or None."""
    try:
        return find_date(tree, extensive_search=False, original_date=True)
    except (ValueError, TypeError) as err:
        LOGGER.debug("htmldate failed: %s", err)
        return None
