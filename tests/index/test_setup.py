"""Set-up against the real local Elasticsearch: templates from index_mappings/, idempotent."""

from __future__ import annotations

import pytest

from kzmon.es import cluster_info
from kzmon.indexer import mappings
from kzmon.indexer.setup import alias_targets, ensure_setup, write_index_of

pytestmark = pytest.mark.integration


def test_setup_is_idempotent(es, prefix: str) -> None:
    """Twice: same templates, one index, both aliases on it; nothing created the second time."""
    first = ensure_setup(es)
    second = ensure_setup(es)
    assert first.created_index == f"{prefix}-articles-v1"
    assert second.created_index is None
    assert es.indices.get(index=f"{prefix}-articles-v*").body.keys() == {f"{prefix}-articles-v1"}
    assert alias_targets(es, f"{prefix}-articles") == [f"{prefix}-articles-v1"]
    from kzmon.indexer.names import get_names

    assert write_index_of(es, get_names()) == f"{prefix}-articles-v1"
    template = es.indices.get_index_template(name=f"{prefix}-articles").body
    composed = template["index_templates"][0]["index_template"]["composed_of"]
    assert composed[:2] == [f"{prefix}-articles-settings", f"{prefix}-articles-mappings"]


def test_index_mapping_is_the_json_one(es, prefix: str) -> None:
    """The concrete index carries exactly the fields of index_mappings/, dynamic strict."""
    ensure_setup(es)
    has_analysis = cluster_info(es).has("analysis-common")
    got = es.indices.get_mapping(index=f"{prefix}-articles-v1").body
    mapping = got[f"{prefix}-articles-v1"]["mappings"]
    assert mapping["dynamic"] == "strict"
    expected = mappings.field_paths(mappings.article_properties(with_analysis=has_analysis))
    assert mappings.field_paths(mapping["properties"]) == expected
    assert mapping["properties"]["place_geo"]["type"] == "geo_point"


def test_analysis_component_applied_only_with_analysis_common(es, prefix: str) -> None:
    """The stripped local node lacks analysis-common: the component is skipped and reported."""
    report = ensure_setup(es)
    name = f"{prefix}-articles-analysis"
    if cluster_info(es).has("analysis-common"):
        assert name in report.component_templates
    else:
        assert name in report.skipped
        assert name not in report.component_templates


def test_ops_index_gets_its_template(es, prefix: str) -> None:
    """A document shaped like kzmon/ops writes is mapped by the ops template."""
    ensure_setup(es)
    es.index(
        index=f"{prefix}-ops",
        document={
            "kind": "health",
            "outlet": "jamestown",
            "at": "2026-11-21T04:00:00Z",
            "health": {
                "status": "quiet",
                "hours_since_last_article": 50.5,
                "last_published_at": "2026-11-19T02:00:00+00:00",
                "runs": 4,
                "cluster_status": "green",
                "index_size_bytes": 12345678901,
            },
            "alerts": ["quiet: no new article for 50.5 h"],
            "counts": {"fetched": 3, "dead_lettered": 1},
        },
        refresh=True,
    )
    props = es.indices.get_mapping(index=f"{prefix}-ops").body[f"{prefix}-ops"]["mappings"]
    assert props["properties"]["at"]["type"] == "date"
    assert props["properties"]["health"]["properties"]["status"]["type"] == "keyword"
    assert props["properties"]["counts"]["properties"]["alerted"]["type"] == "integer"
    assert props["properties"]["alerts"]["type"] == "keyword"
    assert props["properties"]["health"]["properties"]["index_size_bytes"]["type"] == "long"
