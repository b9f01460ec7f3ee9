"""Re-tag against the real local Elasticsearch: new index version, atomic alias swap."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kzmon.indexer import index_articles
from kzmon.indexer import retag as retag_module
from kzmon.indexer.retag import indexed_taxonomy_versions, needs_retag, retag
from kzmon.indexer.setup import alias_targets, ensure_setup

pytestmark = pytest.mark.integration


class MarkingTagger:
    """A stand-in tagger: tags every article with the incident ``riot`` and a new version."""

    version = "test-2"

    def __init__(self, on_first_call=None) -> None:
        self.calls = 0
        self.on_first_call = on_first_call

    def tag(self, record: dict) -> dict:
        self.calls += 1
        if self.calls == 1 and self.on_first_call:
            self.on_first_call()
        return {
            "entities": [{"id": "group:x", "type": "group", "name": "Group X", "mentions": 1}],
            "incident_types": ["riot"],
            "kz_security": {"relevant": True, "score": 0.9, "reasons": ["test"]},
            "taxonomy_version": self.version,
        }


class Reader(threading.Thread):
    """Searches the read alias in a loop and remembers every error or empty answer."""

    def __init__(self, es, alias: str) -> None:
        super().__init__(daemon=True)
        self.es, self.alias = es, alias
        self.stop = threading.Event()
        self.searches = 0
        self.problems: list[Any] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                resp = self.es.search(index=self.alias, query={"match": {"text": "security"}})
                if resp["hits"]["total"]["value"] == 0:
                    self.problems.append("zero hits")
            except Exception as exc:  # noqa: BLE001 - the test reports any failure
                self.problems.append(repr(exc))
            self.searches += 1


def _index(es, make_record, dead_letter_dir, n: int) -> None:
    records = [make_record(i) for i in range(n)]
    result = index_articles(records, es=es, dead_letter_dir=dead_letter_dir, refresh=True)
    assert result.indexed == n


def test_retag_swaps_aliases_while_a_reader_keeps_getting_results(
    es, prefix, make_record, dead_letter_dir, monkeypatch
) -> None:
    """v1 → v2 with new tags; a concurrent reader never sees an error or zero hits."""
    ensure_setup(es)
    _index(es, make_record, dead_letter_dir, 240)
    monkeypatch.setattr(retag_module, "PAGE_SIZE", 40)  # several PIT pages
    late = make_record(999, title="Written during the re-tag")

    def write_during_copy() -> None:
        index_articles([late], es=es, dead_letter_dir=dead_letter_dir)

    tagger = MarkingTagger(on_first_call=write_during_copy)
    assert needs_retag(es, tagger)
    reader = Reader(es, f"{prefix}-articles")
    reader.start()
    try:
        report = retag(es, tagger, delete_grace_s=0.5)
    finally:
        reader.stop.set()
        reader.join(timeout=30)
    assert reader.problems == []
    assert reader.searches > 0
    assert (report.source_index, report.target_index) == (
        f"{prefix}-articles-v1",
        f"{prefix}-articles-v2",
    )
    assert (report.copied, report.caught_up, report.failed) == (240, 1, 0)
    assert report.old_index_deleted
    assert alias_targets(es, f"{prefix}-articles") == [f"{prefix}-articles-v2"]
    assert alias_targets(es, f"{prefix}-articles-write") == [f"{prefix}-articles-v2"]
    es.indices.refresh(index=f"{prefix}-articles")
    assert es.count(index=f"{prefix}-articles")["count"] == 241
    assert indexed_taxonomy_versions(es) == {"test-2": 241}
    assert not needs_retag(es, tagger)
    doc = es.search(index=f"{prefix}-articles", query={"term": {"groups": "Group X"}}, size=1)
    assert doc["hits"]["total"]["value"] == 241
    assert doc["hits"]["hits"][0]["_source"]["indexed_at"]  # kept from the first indexing
    # Indexing after the swap goes to v2.
    _index(es, make_record, dead_letter_dir, 3)
    assert es.count(index=f"{prefix}-articles-v2")["count"] == 241


def test_retag_with_the_real_tagger(es, prefix, make_record, dead_letter_dir) -> None:
    """The enrich tagger re-tags stored text: its taxonomy version is on every document."""
    from enrich.tagging import get_tagger

    tagger = get_tagger()
    ensure_setup(es)
    _index(es, make_record, dead_letter_dir, 5)
    assert needs_retag(es, tagger)
    report = retag(es, keep_old=True, delete_grace_s=0)
    assert (report.copied, report.failed, report.old_index_deleted) == (5, 0, False)
    assert es.indices.exists(index=f"{prefix}-articles-v1")
    es.indices.refresh(index=f"{prefix}-articles")
    assert indexed_taxonomy_versions(es) == {tagger.version: 5}
    hit = es.search(index=f"{prefix}-articles", size=1)["hits"]["hits"][0]["_source"]
    assert "place:almaty" in " ".join(hit.get("entity_ids", [])) or hit.get("places")
