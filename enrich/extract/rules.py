"""Per-outlet extraction rules: loaded from ``outlet_rules.yaml`` and validated.

The rules are data (XPaths and regexes); the generic code in ``cleaning`` and ``core`` applies
them. ``load_rules()`` reads the file once per path; ``RuleSet.for_outlet`` merges an outlet's
rules with the defaults, and ``RuleSet.outlet_for_url`` infers the outlet from a URL's host.
"""

from __future__ import annotations

import logging
import re
from functools import cached_property, lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, field_validator

LOGGER = logging.getLogger(__name__)

#: The rules shipped with the package.
DEFAULT_RULES_PATH = Path(__file__).with_name("outlet_rules.yaml")

_XPATH_FIELDS = ("title", "subtitle", "authors", "published", "modified", "section")
_LIST_FIELDS = (
    *_XPATH_FIELDS,
    "drop",
    "captions",
    "metadata_lines",
    "drop_paragraphs",
    "stop_at",
    "caption_paragraphs",
    "drop_authors",
)


class OutletRules(BaseModel):
    """The rules of one outlet (or the defaults); see the header of ``outlet_rules.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    #: other names the site goes by (older names, short forms): never a title (title.py)
    site_names: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    title: list[str] = Field(default_factory=list)
    subtitle: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    published: list[str] = Field(default_factory=list)
    modified: list[str] = Field(default_factory=list)
    section: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)
    captions: list[str] = Field(default_factory=list)
    metadata_lines: list[str] = Field(default_factory=list)
    drop_paragraphs: list[str] = Field(default_factory=list)
    stop_at: list[str] = Field(default_factory=list)
    caption_paragraphs: list[str] = Field(default_factory=list)
    drop_authors: list[str] = Field(default_factory=list)

    @field_validator(*_XPATH_FIELDS, "drop", "captions")
    @classmethod
    def _valid_xpaths(cls, value: list[str]) -> list[str]:
        for expr in value:
            try:
                etree.XPath(expr)
            except etree.XPathSyntaxError as err:  # a typo in the rules file
                raise ValueError(f"invalid XPath {expr!r}: {err}") from err
        return value

    @field_validator(
        "metadata_lines", "drop_paragraphs", "stop_at", "caption_paragraphs", "drop_authors"
    )
    @classmethod
    def _valid_regexes(cls, value: list[str]) -> list[str]:
        for expr in value:
            re.compile(expr)
        return value

    def merged(self, other: OutletRules) -> OutletRules:
        """These rules with ``other``'s lists appended (``other`` wins for name/hosts)."""
        data = self.model_dump()
        for key in _LIST_FIELDS:
            data[key] = [*other.model_dump()[key], *data[key]]
        data["name"], data["hosts"] = other.name, other.hosts
        data["site_names"] = [*other.site_names, *self.site_names]
        data["languages"] = other.languages or self.languages
        return OutletRules(**data)

    def compiled(self) -> CompiledRules:
        """XPaths and regexes compiled for repeated use."""
        return CompiledRules(self)


class CompiledRules:
    """An ``OutletRules`` with its XPaths and regexes compiled."""

    def __init__(self, rules: OutletRules) -> None:
        self.rules = rules
        self.xpaths: dict[str, list[etree.XPath]] = {
            key: [etree.XPath(e) for e in getattr(rules, key)]
            for key in (*_XPATH_FIELDS, "drop", "captions")
        }
        flags = re.IGNORECASE | re.UNICODE
        self.metadata_lines = [re.compile(e, flags) for e in rules.metadata_lines]
        self.drop_paragraphs = [re.compile(e, flags) for e in rules.drop_paragraphs]
        self.stop_at = [re.compile(e, flags) for e in rules.stop_at]
        self.caption_paragraphs = [re.compile(e, flags) for e in rules.caption_paragraphs]
        self.drop_authors = [re.compile(e, flags) for e in rules.drop_authors]


class RuleSet(BaseModel):
    """All outlets' rules plus the defaults every page gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    defaults: OutletRules = Field(default_factory=OutletRules)
    outlets: dict[str, OutletRules] = Field(default_factory=dict)

    @cached_property
    def _compiled(self) -> dict[str | None, CompiledRules]:
        compiled: dict[str | None, CompiledRules] = {None: self.defaults.compiled()}
        for outlet_id, rules in self.outlets.items():
            compiled[outlet_id] = self.defaults.merged(rules).compiled()
        return compiled

    def for_outlet(self, outlet_id: str | None) -> CompiledRules:
        """The compiled rules for an outlet id; the defaults for an unknown or absent one."""
        compiled = self._compiled
        if outlet_id not in compiled:
            if outlet_id:
                LOGGER.debug("no extraction rules for outlet %r; using the defaults", outlet_id)
            return compiled[None]
        return compiled[outlet_id]

    def outlet_for_url(self, url: str | None) -> str | None:
        """The outlet id whose host list matches the URL's host most specifically, or None."""
        host = (urlsplit(url or "").hostname or "").lower()
        best: tuple[int, str | None] = (0, None)
        for outlet_id, rules in self.outlets.items():
            for pattern in rules.hosts:
                pattern = pattern.lower()
                if (host == pattern or host.endswith("." + pattern)) and len(pattern) > best[0]:
                    best = (len(pattern), outlet_id)
        return best[1]


@lru_cache(maxsize=8)
def load_rules(path: Path = DEFAULT_RULES_PATH) -> RuleSet:
    """Read and validate a rules file (cached per path)."""
    with Path(path).open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    rules = RuleSet(**data)
    LOGGER.debug("loaded %d outlet rule sets from %s", len(rules.outlets), path)
    return rules
