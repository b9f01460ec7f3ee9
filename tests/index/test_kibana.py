"""Kibana saved objects: every field they reference exists in the mapping (offline).

The mappings are loaded from index_mappings/ (the one source of truth), never written here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from enrich.tagging import INCIDENT_TYPES
from kzmon.indexer import mappings

LENS_RECORDS = "___records___"  # Lens' "count of records": not a field
KQL_FIELD = re.compile(r"([A-Za-z_][\w.]*)\s*:")
NUMERIC = {"integer", "long", "float", "double", "scaled_float", "short"}


def _objects() -> list[dict[str, Any]]:
    objects = []
    for path in mappings.kibana_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                objects.append(json.loads(line))
    return objects


OBJECTS = _objects()
BY_ID = {(o["type"], o["id"]): o for o in OBJECTS}
DATA_VIEWS = {o["id"]: o["attributes"]["title"] for o in OBJECTS if o["type"] == "index-pattern"}
FIELD_TYPES = {
    "kzmon-articles": mappings.field_types(mappings.article_properties()),
    "kzmon-ops": mappings.field_types(mappings.ops_properties()),
    "kzmon-incidents": mappings.field_types(mappings.stories_properties()),
}


def _ref(obj: dict[str, Any], name: str) -> str:
    return next(r["id"] for r in obj["references"] if r["name"] == name)


def _kql(query: dict[str, Any] | None) -> list[str]:
    return KQL_FIELD.findall((query or {}).get("query", ""))


def _field_refs(obj: dict[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    """(data view id, field, operation or None) for every field an object names."""
    kind, attrs = obj["type"], obj["attributes"]
    if kind == "index-pattern":
        yield obj["id"], attrs["timeFieldName"], "time"
        for source_filter in json.loads(attrs.get("sourceFilters") or "[]"):
            yield obj["id"], source_filter["value"], None
    elif kind == "search":
        yield from _search_refs(obj, attrs)
    elif kind == "map":
        yield from _map_refs(obj, attrs)
    elif kind == "dashboard":
        for panel in json.loads(attrs["panelsJSON"]):
            lens = panel.get("embeddableConfig", {}).get("attributes")
            if lens:
                yield from _lens_refs(lens)


def _search_refs(obj: dict[str, Any], attrs: dict[str, Any]) -> Iterator[tuple[str, str, None]]:
    view = _ref(obj, "kibanaSavedObjectMeta.searchSourceJSON.index")
    source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
    fields = [*attrs["columns"], *(s[0] for s in attrs["sort"]), *_kql(source.get("query"))]
    fields += [f["meta"]["key"] for f in source.get("filter", [])]
    for field in fields:
        yield view, field, None


def _map_refs(obj: dict[str, Any], attrs: dict[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    for layer in json.loads(attrs["layerListJSON"]):
        source = layer.get("sourceDescriptor", {})
        if "indexPatternRefName" not in source:
            continue
        view = _ref(obj, source["indexPatternRefName"])
        yield view, source["geoField"], "geo"
        for field in [*source.get("tooltipProperties", []), source.get("sortField")]:
            if field:
                yield view, field, None
        for field in _kql(layer.get("query")):
            yield view, field, None


def _lens_refs(lens: dict[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    layers = lens["state"]["datasourceStates"]["formBased"]["layers"]
    for layer_id, layer in layers.items():
        view = _ref(lens, f"indexpattern-datasource-layer-{layer_id}")
        for column in layer["columns"].values():
            if column["sourceField"] != LENS_RECORDS:
                yield view, column["sourceField"], column["operationType"]
            if column.get("params", {}).get("sortField"):
                yield view, column["params"]["sortField"], "time"
        for field in _kql(lens["state"].get("query")):
            yield view, field, None


ALL_REFS = [(o["type"], o["id"], *ref) for o in OBJECTS for ref in _field_refs(o)]


def test_saved_objects_reference_fields_that_exist() -> None:
    """Every field named by a data view, search, map or Lens panel is in the JSON mapping."""
    assert len(ALL_REFS) > 50
    missing = [r for r in ALL_REFS if r[3] not in FIELD_TYPES[DATA_VIEWS[r[2]]]]
    assert missing == []


@pytest.mark.parametrize(
    ("operation", "types"),
    [
        ("time", {"date"}),
        ("date_histogram", {"date"}),
        ("geo", {"geo_point"}),
        ("sum", NUMERIC),
        ("max", NUMERIC),
        ("min", NUMERIC),
        ("terms", {"keyword"}),
    ],
)
def test_fields_have_the_type_their_use_needs(operation: str, types: set[str]) -> None:
    """Time fields are dates, the map's field a geo_point, sums numeric, terms keywords."""
    used = [r for r in ALL_REFS if r[4] == operation]
    assert used, f"no {operation} in the saved objects"
    wrong = [r for r in used if FIELD_TYPES[DATA_VIEWS[r[2]]][r[3]] not in types]
    assert wrong == []


def test_data_views_and_time_fields() -> None:
    """Articles on the read alias by published_at; ops on kzmon-ops by at."""
    views = {o["attributes"]["title"]: o for o in OBJECTS if o["type"] == "index-pattern"}
    assert views["kzmon-articles"]["attributes"]["timeFieldName"] == "published_at"
    assert views["kzmon-ops"]["attributes"]["timeFieldName"] == "at"
    assert views["kzmon-incidents"]["attributes"]["timeFieldName"] == "incident.date"


def test_incidents_map_and_timeline() -> None:
    """The incidents map plots incident.location.geo; the timeline histograms incident.date."""
    refs = {(r[1], r[3], r[4]) for r in ALL_REFS}
    assert ("kzmon-incidents-map", "incident.location.geo", "geo") in refs
    assert ("kzmon-incidents-timeline", "incident.date", "date_histogram") in refs


def test_saved_searches_cover_every_incident_type() -> None:
    """'all relevant' plus one search per family; the families use every known incident type."""
    searches = {o["attributes"]["title"]: o for o in OBJECTS if o["type"] == "search"}
    assert "Kazakhstan security — all relevant" in searches
    assert len(searches) == 5
    used: set[str] = set()
    for search in searches.values():
        source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["query"]["query"].startswith("relevant:true")
        used |= set(re.findall(r"\b[a-z_]+\b", source["query"]["query"])) & set(INCIDENT_TYPES)
    assert used == set(INCIDENT_TYPES)


def test_dashboard_panels_resolve() -> None:
    """Panels by reference point at objects of the files; the overview has the five panels."""
    for dash in (o for o in OBJECTS if o["type"] == "dashboard"):
        for panel in json.loads(dash["attributes"]["panelsJSON"]):
            if "panelRefName" in panel:
                name = f"{panel['panelIndex']}:{panel['panelRefName']}"
                ref = next(r for r in dash["references"] if r["name"] == name)
                assert (ref["type"], ref["id"]) in BY_ID
    overview = BY_ID[("dashboard", "kzmon-overview")]
    titles = [p["title"] for p in json.loads(overview["attributes"]["panelsJSON"])]
    assert titles == [
        "Articles over time by incident type",
        "Tagged places",
        "Top groups",
        "Top outlets",
        "Latest relevant articles",
    ]


def test_every_reference_targets_a_known_object() -> None:
    """No dangling references: every referenced id is defined in the NDJSON files."""
    for obj in OBJECTS:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in BY_ID, (obj["id"], ref)
