"""Loads the index templates in `index_mappings/`, the one source of truth for them.

The JSON files hold the template bodies; the names in them (``{prefix}``) are filled in here
from `KZMON_INDEX_PREFIX`. Tests and the Kibana field check load the same files.
"""

from __future__ import annotations

import copy
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

from kzmon.indexer.names import Names
from kzmon.settings import REPO_ROOT

LOGGER = logging.getLogger(__name__)

MAPPINGS_DIR = REPO_ROOT / "index_mappings"
KIBANA_DIR = MAPPINGS_DIR / "kibana"

#: Component templates of the article index, in the order they are composed.
ARTICLE_COMPONENTS = ("settings", "mappings", "analysis")
#: Components that only clusters with a given module get.
OPTIONAL_COMPONENTS = {"analysis": "analysis-common"}


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((MAPPINGS_DIR / name).read_text(encoding="utf-8"))


def load_json(name: str) -> dict[str, Any]:
    """A fresh copy of one JSON file of `index_mappings/` (callers may change it)."""
    return copy.deepcopy(_load(name))


def _fill(value: Any, names: Names) -> Any:
    if isinstance(value, str):
        return value.replace("{prefix}", names.prefix)
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def component_template(part: str) -> dict[str, Any]:
    """The body of one article component template (``settings``, ``mappings``, ``analysis``)."""
    return load_json(f"articles-{part}.json")


def index_template(names: Names, components: list[str]) -> dict[str, Any]:
    """The composable article index template, composed of the given components."""
    body = load_json("articles-template.json")
    body["index_patterns"] = _fill(body["index_patterns"], names)
    body["composed_of"] = [names.component(part) for part in components]
    return body


def ops_template(names: Names) -> dict[str, Any]:
    """The ops index template body."""
    body = load_json("ops-template.json")
    body["index_patterns"] = _fill(body["index_patterns"], names)
    return body


def article_settings() -> dict[str, Any]:
    """The article index settings (``index.*``) of the settings component."""
    return component_template("settings")["template"]["settings"]["index"]


def article_properties(*, with_analysis: bool = False) -> dict[str, Any]:
    """The article field mapping as composed by Elasticsearch (later components win per field)."""
    properties = component_template("mappings")["template"]["mappings"]["properties"]
    if with_analysis:
        properties.update(component_template("analysis")["template"]["mappings"]["properties"])
    return properties


def field_types(properties: dict[str, Any], parent: str = "") -> dict[str, str]:
    """Every field path a mapping defines (sub-fields such as ``text.english`` included)
    with its type (``object`` for objects without a type)."""
    types: dict[str, str] = {}
    for name, spec in properties.items():
        path = f"{parent}{name}"
        types[path] = spec.get("type", "object")
        types |= field_types(spec.get("properties", {}), f"{path}.")
        types |= field_types(spec.get("fields", {}), f"{path}.")
    return types


def field_paths(properties: dict[str, Any]) -> set[str]:
    """Every field path a mapping defines, sub-fields included."""
    return set(field_types(properties))


def ops_properties() -> dict[str, Any]:
    """The ops index field mapping."""
    return load_json("ops-template.json")["template"]["mappings"]["properties"]


def stories_properties() -> dict[str, Any]:
    """The stories index field mapping (kzmon.stories; the incidents data view reads it)."""
    return load_json("stories-template.json")["template"]["mappings"]["properties"]


def kibana_files() -> list[Path]:
    """The Kibana saved-object NDJSON files."""
    return sorted(KIBANA_DIR.glob("*.ndjson"))
