"""Record → document: the flat fields of docs/records.md §3 (offline)."""

from __future__ import annotations

import hashlib

import pytest

from kzmon.indexer import mappings, to_document
from kzmon.indexer.documents import from_document


def test_id_is_sha256_of_canonical_url(make_record) -> None:
    """A rerun of the same article gets the same id, whatever URL it was fetched from."""
    record = make_record(1)
    doc = to_document(record)
    expected = hashlib.sha256(record["canonical_url"].encode()).hexdigest()
    assert doc["doc_id"] == expected
    assert to_document({**record, "url": "https://other/"})["doc_id"] == expected


def test_entities_are_flattened_per_type(make_record) -> None:
    """Names and ids per type, every entity id, and the places' geo points."""
    doc = to_document(make_record(2))
    assert doc["entity_ids"] == ["place:almaty", "org:knb"]
    assert doc["places"] == ["Almaty"]
    assert doc["place_ids"] == ["place:almaty"]
    assert doc["organizations"] == ["National Security Committee"]
    assert doc["place_geo"] == [{"lat": 43.2389, "lon": 76.8897}]
    assert "groups" not in doc
    assert doc["relevant"] is True
    assert doc["relevance_score"] == 0.8
    assert doc["incident_types"] == ["arrest"]


def test_every_document_field_is_mapped(make_record) -> None:
    """to_document only writes fields the JSON mapping has (the index is dynamic: strict)."""
    doc = to_document(make_record(3), indexed_at="2026-11-21T00:00:00Z", run_id="r1")
    mapped = set(mappings.article_properties())
    assert set(doc) <= mapped


def test_record_without_url_is_refused() -> None:
    """No URL, no id: a ValueError the indexer records per item."""
    with pytest.raises(ValueError):
        to_document({"title": "x"})


def test_from_document_round_trips_the_record_fields(make_record) -> None:
    """Re-tag rebuilds the untagged record from a stored document."""
    record = make_record(4)
    back = from_document(to_document(record))
    assert back["text"] == record["text"]
    assert back["canonical_url"] == record["canonical_url"]
    assert "incident_types" not in back


def test_analysis_component_only_adds_sub_fields() -> None:
    """The optional component repeats the base definition of each field and adds sub-fields."""
    base = mappings.article_properties()
    analysis = mappings.component_template("analysis")["template"]["mappings"]["properties"]
    for name, spec in analysis.items():
        without_sub_fields = {k: v for k, v in spec.items() if k != "fields"}
        assert without_sub_fields == base[name], name
        assert set(spec["fields"]) == {"english", "russian"}


def test_places_without_a_position_get_no_geo_point(make_record) -> None:
    """A place whose geo is missing or incomplete is named, but not put on the map."""
    record = make_record(5)
    record["entities"] = [
        {"id": "place:a", "type": "place", "name": "A", "geo": {"lat": None, "lon": 1.0}},
        {"id": "place:b", "type": "place", "name": "B"},
        {"id": "place:c", "type": "place", "name": "C", "geo": {"lat": 1.5, "lon": 2}},
    ]
    doc = to_document(record)
    assert doc["places"] == ["A", "B", "C"]
    assert doc["place_geo"] == [{"lat": 1.5, "lon": 2}]
    record["entities"] = record["entities"][:2]
    assert "place_geo" not in to_document(record)
