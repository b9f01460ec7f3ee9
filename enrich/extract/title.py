"""The article title: the first candidate that is not the site's name, with site names cut off.

Pages name their site everywhere a title could come from: ``<title>Global Voices Online »
Headline</title>``, ``og:title`` "Headline | The Moscow Times", a logo ``<h1 id="site-title">``
that is the page's only ``h1``. A general rule, the same for every outlet and layout:

- a **site name** is the outlet's name(s) from its rules (``name``, ``site_names``), what the
  page declares (``og:site_name``, ``application-name``, JSON-LD ``publisher``/``WebSite``
  names, ``<link rel="start" title>``), the text of the page's site headings (below), or the
  host name read as words (``globalvoicesonline.org`` is "Global Voices Online",
  ``rferl.org`` is "RFE/RL"); names are compared by their letters and digits only, case- and
  accent-insensitively, a leading "The" ignored;
- a site name **before or after a separator** (» « | – — - : · • / ~ ‹ › :: and the like) is
  cut off a candidate, as many times as it occurs at either end ("Site » Section | Headline"
  keeps "Section | Headline" only when "Section" is not a site name either);
- a **heading that is the site's** (it or its parent has a ``site-title``, ``site-name``,
  ``site-logo``, ``blog-title``, ``logo`` or ``navbar-brand`` id or class, or its text is a
  site name) is never a candidate;
- a candidate that is nothing but a site name is skipped.

Candidates, in order: the outlet's title rules (every match of every expression), the JSON-LD
headline, the meta-tag title (``og:title`` and the like, as trafilatura reads it), the page's
only ``h1``, headings with a title class (``post-title``, ``entry-title``, ``headline``...),
the ``<title>`` element, then the first ``h1`` and ``h2``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from lxml import etree
from lxml.html import HtmlElement
from trafilatura.xpaths import TITLE_XPATHS

from enrich.extract.pagemeta import JsonLd, clean_space, run_xpath
from enrich.extract.rules import CompiledRules

LOGGER = logging.getLogger(__name__)

#: Separators between a site name and a headline: runs of these punctuation marks, with or
#: without spaces; a hyphen or slash only between spaces (it is part of words otherwise).
_SEPARATOR = re.compile(r"\s*(?:[»«|–—·•⁄~‹›:<>*⋆]+|::)\s*|\s+[-/\\]+\s+")
#: ids/classes of the elements that carry a site's name rather than an article's.
_SITE_MARKER = re.compile(
    r"(?:^|[\s_-])(?:site-?(?:title|name|logo|branding)|blog-?(?:title|name)|logo|navbar-brand)"
    r"(?:$|[\s_-])",
    re.IGNORECASE,
)
_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
_SITE_META = ("og:site_name", "application-name", "apple-mobile-web-app-title", "twitter:site")
#: A heading is the site's when it or its parent carries a site marker.
_MARKER_DEPTH = 2
#: Host labels that are not a name: generic and second-level domains, "www".
_GENERIC_LABELS = {"com", "org", "net", "info", "biz", "gov", "edu", "co", "ac", "www"}


def site_key(text: str) -> str:
    """A name reduced to its letters and digits, casefolded, without accents or a leading
    "the" (``"The Moscow Times"`` and ``"themoscowtimes"`` are the same key)."""
    decomposed = unicodedata.normalize("NFKD", clean_space(text).casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    key = _NON_ALNUM.sub("", letters)
    return key[3:] if key.startswith("the") and len(key) > 6 else key


def site_keys(tree: HtmlElement, rules: CompiledRules, jsonld: JsonLd, url: str | None) -> set[str]:
    """The keys of every name the site goes by on this page (see the module docstring)."""
    names = [rules.rules.name, *rules.rules.site_names, *jsonld.site_names]
    names += _declared_site_names(tree)
    names += [_text(element) for element in _site_elements(tree)]
    keys = {site_key(name) for name in names if name}
    keys |= _host_keys(url)
    keys.discard("")
    return keys


def _declared_site_names(tree: HtmlElement) -> list[str]:
    names = []
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or "").lower()
        if key in _SITE_META and meta.get("content"):
            names.append(meta.get("content").lstrip("@"))
    for link in tree.iter("link"):
        if "start" in (link.get("rel") or "").lower().split() and link.get("title"):
            names.append(link.get("title"))
    return names


def _host_keys(url: str | None) -> set[str]:
    """The registrable label of the URL's host (``globalvoicesonline``, ``rferl``)."""
    host = (urlsplit(url or "").hostname or "").lower()
    labels = host.split(".")[:-1]  # without the top-level domain
    labels = [label for label in labels if label and label not in _GENERIC_LABELS]
    return {site_key(labels[-1])} if labels else set()


def _site_elements(tree: HtmlElement) -> Iterator[HtmlElement]:
    """Elements marked as the site's name (logo, site title, masthead), short texts only."""
    for element in tree.iter("h1", "h2", "div", "a", "span", "p"):
        if _marked(element) and 0 < len(_text(element)) <= 80:
            yield element


def _marked(element: HtmlElement) -> bool:
    markers = f"{element.get('id') or ''} {element.get('class') or ''}"
    return bool(_SITE_MARKER.search(markers))


def is_site_heading(element: HtmlElement, keys: set[str]) -> bool:
    """True for a heading that names the site, not the article."""
    node: HtmlElement | None = element
    for _ in range(_MARKER_DEPTH):
        if node is None or not isinstance(node.tag, str):
            break
        if _marked(node):
            return True
        node = node.getparent()
    return site_key(_text(element)) in keys


def strip_site_names(text: str, keys: set[str]) -> str:
    """``text`` without site names before or after separators ("" when it is only a name)."""
    text = clean_space(text)
    changed = True
    while changed and text:
        changed = False
        if site_key(text) in keys:
            return ""
        for match in _SEPARATOR.finditer(text):
            left, right = text[: match.start()], text[match.end() :]
            if left and site_key(left) in keys:
                text, changed = right.strip(), True
                break
            if right and site_key(right) in keys:
                text, changed = left.strip(), True
                break
    return text


def _text(node: object) -> str:
    if isinstance(node, str):
        return clean_space(node)
    if isinstance(node, etree._Element):
        return clean_space(etree.tostring(node, method="text", encoding="unicode", with_tail=False))
    return ""


def _rule_candidates(tree: HtmlElement, rules: CompiledRules, keys: set[str]) -> Iterator[str]:
    for expr in rules.xpaths["title"]:
        for node in run_xpath(tree, expr):
            if isinstance(node, HtmlElement) and is_site_heading(node, keys):
                continue
            yield _text(node)


def _heading_candidates(tree: HtmlElement, keys: set[str]) -> Iterator[str]:
    h1s = [h for h in tree.iter("h1") if not is_site_heading(h, keys)]
    if len(h1s) == 1:
        yield _text(h1s[0])
    for expr in TITLE_XPATHS:
        for node in run_xpath(tree, expr):
            if isinstance(node, HtmlElement) and not is_site_heading(node, keys):
                yield _text(node)
    title = tree.find(".//head/title")
    if title is None:
        title = tree.find(".//title")
    if title is not None:
        yield _text(title)
    for tag in ("h1", "h2"):
        for heading in tree.iter(tag):
            if not is_site_heading(heading, keys):
                yield _text(heading)
                break


def choose_title(
    tree: HtmlElement,
    rules: CompiledRules,
    jsonld: JsonLd,
    url: str | None,
    meta_title: str | None,
    *,
    keys: set[str] | None = None,
) -> str | None:
    """The article's title (see the module docstring), or None when the page has none.

    ``keys`` are the page's `site_keys` when the caller has them already.
    """
    keys = site_keys(tree, rules, jsonld, url) if keys is None else keys
    candidates: Iterable[str] = _chain(
        _rule_candidates(tree, rules, keys),
        [jsonld.headline or "", meta_title or ""],
        _heading_candidates(tree, keys),
    )
    for candidate in candidates:
        title = strip_site_names(candidate, keys)
        if title:
            return title
    return None


def _chain(*parts: Iterable[str]) -> Iterator[str]:
    for part in parts:
        yield from part
