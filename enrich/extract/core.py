"""``extract_page``: one fetched page in, one article record (or an error record) out.

The page is parsed once (lxml, via trafilatura's loader); the outlet's rules read metadata
from the tree and drop known noise; trafilatura extracts the main text and its metadata from
the same tree; the rules then clean the paragraphs. Bad input never raises: the record is
``{"url": ..., "error": "<reason>"}``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from enrich.extract import cleaning, dates, pagemeta
from enrich.extract.inputs import check_html
from enrich.extract.language import detect_language
from enrich.extract.options import ExtractOptions
from enrich.extract.rules import CompiledRules, load_rules
from enrich.extract.title import choose_title, site_keys, strip_site_names

LOGGER = logging.getLogger(__name__)

#: Version of this extractor; bump it when records change for the same page.
__version__ = "1.0.0"
EXTRACTOR_VERSION = f"kzmon-extract/{__version__}+trafilatura/{trafilatura.__version__}"

_BY_PREFIX = re.compile(r"^(by|written by|автор[:]?|авторы[:]?)\s+", re.IGNORECASE)
# Exceptions that bad pages raise inside lxml/trafilatura; turned into error records.
_PAGE_ERRORS = (ValueError, etree.LxmlError, RecursionError)


@dataclass
class _PageContext:
    """What extraction knows about one page while it works."""

    page: dict[str, Any]
    url: str | None
    outlet: str | None
    rules: CompiledRules
    tree: HtmlElement


def extract_page(page: dict[str, Any], options: ExtractOptions | None = None) -> dict[str, Any]:
    """Turn a fetched page (crawl-batch or CLI line) into an article record.

    Never raises for bad input: returns ``{"url": ..., "error": "<reason>"}`` instead.
    """
    options = options or ExtractOptions()
    if not isinstance(page, dict):
        return {"url": None, "error": f"page must be a JSON object, got {type(page).__name__}"}
    url = page.get("url") if isinstance(page.get("url"), str) else None
    reason = check_html(page.get("html"), options.max_page_bytes)
    if reason:
        return {"url": url, "error": reason}
    try:
        return _extract(page, url, options)
    except UnicodeError as err:  # e.g. lone surrogates from undecodable bytes upstream
        LOGGER.warning("undecodable text in %s: %s", url, err)
        return {"url": url, "error": "undecodable bytes in page"}
    except _PAGE_ERRORS as err:
        LOGGER.warning("extraction failed for %s: %s", url, err)
        return {"url": url, "error": f"extraction failed: {type(err).__name__}: {err}"}


def _extract(page: dict[str, Any], url: str | None, options: ExtractOptions) -> dict[str, Any]:
    tree = load_html(page["html"])
    if tree is None or not isinstance(tree, HtmlElement):
        return {"url": url, "error": "unparseable HTML"}
    ruleset = load_rules(options.rules_path)
    outlet = page.get("outlet") or ruleset.outlet_for_url(url)
    rules = ruleset.for_outlet(outlet if options.apply_rules else None)
    ctx = _PageContext(page=page, url=url, outlet=outlet, rules=rules, tree=tree)
    head = _read_page_metadata(ctx)  # before the rules drop anything
    captions = _apply_tree_rules(ctx) if options.apply_rules else []
    document = _run_trafilatura(tree, url, options)
    if document is None or not (document.text or "").strip():
        return {"url": url, "error": "no article text found"}
    title = head["title"]
    cleaned = cleaning.clean_paragraphs(
        document.text.split("\n"), rules, title=title, captions=captions
    )
    cleaning.metadata_from_tree(tree, rules, cleaned)
    if not cleaned.paragraphs:
        return {"url": url, "error": "no article text left after cleaning"}
    return _record(ctx, head, cleaned, title)


def _apply_tree_rules(ctx: _PageContext) -> list[str]:
    """Take the captions out of the tree and drop the noise elements; returns the captions."""
    captions = cleaning.take_captions(ctx.tree, ctx.rules)
    cleaning.drop_elements(ctx.tree, ctx.rules)
    return captions


def _run_trafilatura(tree: HtmlElement, url: str | None, options: ExtractOptions) -> Any:
    """trafilatura on the already-parsed tree (it copies the tree; ours stays intact)."""
    return trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,  # read by pagemeta.trafilatura_metadata, on the same tree
        include_comments=False,
        include_tables=options.include_tables,
        fast=options.fast,
        favor_precision=options.favor_precision,
        favor_recall=options.favor_recall,
    )


def _read_page_metadata(ctx: _PageContext) -> dict[str, Any]:
    """Rule fields, meta tags and JSON-LD, read before the rules drop anything.

    The title is the first candidate that is not the site's name (`title.choose_title`).
    """
    tree, rules = ctx.tree, ctx.rules
    meta = pagemeta.read_head(tree, ctx.url)
    jsonld = pagemeta.read_json_ld(tree)
    trafilatura_meta = pagemeta.trafilatura_metadata(tree)
    sites = site_keys(tree, rules, jsonld, ctx.url)
    title = choose_title(tree, rules, jsonld, ctx.url, trafilatura_meta.title, keys=sites)
    return {
        "site_keys": sites,
        "title": title,
        "subtitle": (cleaning.rule_texts(tree, rules, "subtitle") or [None])[0],
        "authors": cleaning.rule_texts(tree, rules, "authors"),
        "published": cleaning.rule_texts(tree, rules, "published") + meta.published,
        "modified": cleaning.rule_texts(tree, rules, "modified") + meta.modified,
        "section": (cleaning.rule_texts(tree, rules, "section") or [None])[0] or meta.section,
        "canonical_url": meta.canonical,
        "languages": meta.languages,
        "jsonld": jsonld,
        "trafilatura": trafilatura_meta,
    }


def _record(
    ctx: _PageContext, head: dict[str, Any], cleaned: cleaning.CleanResult, title: str | None
) -> dict[str, Any]:
    page, jsonld, meta = ctx.page, head["jsonld"], head["trafilatura"]
    text = "\n\n".join(cleaned.paragraphs)
    declared = head["languages"] or ctx.rules.rules.languages[:1]
    return {
        "url": ctx.url,
        "canonical_url": page.get("canonical_url") or head["canonical_url"],
        "outlet": ctx.outlet,
        "title": title,
        "subtitle": head["subtitle"] or pagemeta.clean_space(meta.description) or None,
        "authors": _authors(
            head["authors"], meta.author, jsonld.authors, ctx.rules, head["site_keys"]
        ),
        "published_at": _published(head, page, ctx),
        "modified_at": dates.first_date([*head["modified"], *jsonld.modified]),
        "language": detect_language(text, declared),
        "section": head["section"] or jsonld.section,
        "publication": cleaned.publication,
        "volume": cleaned.volume,
        "issue": cleaned.issue,
        "text": text,
        "captions": cleaned.captions,
        "word_count": len(text.split()),
        "content_hash": content_hash(text),
        "extractor_version": EXTRACTOR_VERSION,
        "fetched_at": dates.to_iso(page.get("fetched_at")),
        "discovered_via": page.get("discovered_via"),
    }


def _published(head: dict[str, Any], page: dict[str, Any], ctx: _PageContext) -> str | None:
    """Page metadata and JSON-LD first, then the feed, then htmldate's find, then the URL.

    htmldate (fast mode, markup only) runs only when the explicit sources gave nothing; it
    finds day-precision dates in markup that is not a standard meta tag.
    """
    candidates = [*head["published"], *head["jsonld"].published, page.get("feed_published")]
    return (
        dates.first_date(candidates)
        or dates.first_date([pagemeta.markup_date(ctx.tree)])
        or dates.date_from_url(ctx.url)
    )


def _authors(
    from_rules: list[str],
    from_trafilatura: str | None,
    from_jsonld: list[str],
    rules: CompiledRules,
    sites: set[str],
) -> list[str]:
    """Author names from the first source that has any; "By " prefixes, duplicates, site
    names around a person's name ("Daisy Sindelar - RFE/RL") and the outlet's non-person
    accounts (``drop_authors``) removed."""
    for names in (from_rules, (from_trafilatura or "").split(";"), from_jsonld):
        result = _clean_authors(names, rules, sites)
        if result:
            return result
    return []


def _clean_authors(names: list[str], rules: CompiledRules, sites: set[str]) -> list[str]:
    result: list[str] = []
    for name in names:
        name = _BY_PREFIX.sub("", pagemeta.clean_space(name))
        name = strip_site_names(name, sites) or name  # a desk byline that is the site stays
        if not name or name in result or any(p.search(name) for p in rules.drop_authors):
            continue
        result.append(name)
    return result


def content_hash(text: str) -> str:
    """sha256 hex of the text after NFKC normalisation and whitespace collapsing."""
    normalised = " ".join(unicodedata.normalize("NFKC", text).split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()
