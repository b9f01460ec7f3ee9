"""Apply an outlet's rules: to the page tree before trafilatura, to the paragraphs after it."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from lxml.html import HtmlElement

from enrich.extract.pagemeta import clean_space, run_xpath, xpath_texts
from enrich.extract.rules import CompiledRules

LOGGER = logging.getLogger(__name__)

# Paragraphs are compared by their letters and digits only (case and punctuation ignored).
_PUNCT_RE = re.compile(r"[\W_]+", re.UNICODE)


@dataclass
class CleanResult:
    """Paragraphs kept as body text, plus what the rules took out of them."""

    paragraphs: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    publication: str | None = None
    volume: int | None = None
    issue: int | None = None
    removed: int = 0


def take_captions(tree: HtmlElement, rules: CompiledRules) -> list[str]:
    """Texts of the caption elements (each once, page order); the elements leave the tree."""
    captions: list[str] = []
    for expr in rules.xpaths["captions"]:
        for node in run_xpath(tree, expr):
            if not isinstance(node, HtmlElement):
                continue
            text = clean_space(node.text_content())
            if text and text not in captions:
                captions.append(text)
            _remove(node)
    return captions


def drop_elements(tree: HtmlElement, rules: CompiledRules) -> int:
    """Remove the elements the rules' ``drop`` XPaths match; returns how many."""
    dropped = 0
    for expr in rules.xpaths["drop"]:
        for node in run_xpath(tree, expr):
            if isinstance(node, HtmlElement) and node.getparent() is not None:
                _remove(node)
                dropped += 1
    return dropped


def _remove(node: HtmlElement) -> None:
    """Remove an element but keep its tail text (which belongs to the parent)."""
    if node.getparent() is not None:
        node.drop_tree()


def clean_paragraphs(
    paragraphs: list[str], rules: CompiledRules, *, title: str | None, captions: list[str]
) -> CleanResult:
    """Apply metadata-line, stop, drop and caption rules and remove layout repeats."""
    result = CleanResult(captions=list(captions))
    seen_keys = {_key(c) for c in captions}
    title_key = _key(title or "")
    previous_key = None
    for index, raw in enumerate(paragraphs):
        text = clean_space(raw)
        if not text:
            continue
        if any(p.search(text) for p in rules.stop_at):
            result.removed += len(paragraphs) - index
            break
        key = _key(text)
        if _metadata_line(text, rules, result) or _dropped(text, key, rules, title_key):
            result.removed += 1
            continue
        if key in seen_keys or key == previous_key:
            result.removed += 1  # a caption repeated in the body, or a doubled paragraph
            continue
        if any(p.search(text) for p in rules.caption_paragraphs):
            result.captions.append(text)
            seen_keys.add(key)
            continue
        result.paragraphs.append(text)
        previous_key = key
    return result


def _key(text: str) -> str:
    return _PUNCT_RE.sub(" ", text.casefold()).strip()


def _dropped(text: str, key: str, rules: CompiledRules, title_key: str) -> bool:
    if title_key and key == title_key:
        return True  # the title repeated at the top of the body
    return any(p.search(text) for p in rules.drop_paragraphs)


def _metadata_line(text: str, rules: CompiledRules, result: CleanResult) -> bool:
    for pattern in rules.metadata_lines:
        match = pattern.search(text)
        if match:
            fill_metadata(result, match.groupdict())
            return True
    return False


def fill_metadata(result: CleanResult, groups: dict[str, str | None]) -> None:
    """Set publication/volume/issue from a metadata-line match (first match wins)."""
    if groups.get("publication") and not result.publication:
        result.publication = clean_space(groups["publication"])
    if groups.get("volume") and result.volume is None:
        result.volume = int(groups["volume"])
    if groups.get("issue") and result.issue is None:
        result.issue = int(groups["issue"])


def metadata_from_tree(tree: HtmlElement, rules: CompiledRules, result: CleanResult) -> None:
    """Look for the metadata lines in the page text when the body did not carry them."""
    if not rules.metadata_lines or result.publication:
        return
    body = tree.find("body")
    text = clean_space((body if body is not None else tree).text_content())
    for pattern in rules.metadata_lines:
        match = pattern.search(text)
        if match:
            fill_metadata(result, match.groupdict())
            return


def rule_texts(tree: HtmlElement, rules: CompiledRules, key: str) -> list[str]:
    """The texts a rule field's XPaths find (e.g. ``title``, ``authors``)."""
    return xpath_texts(tree, rules.xpaths[key])
