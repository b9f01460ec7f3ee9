"""Bulk indexing against the real local Elasticsearch: idempotent, dead letters, no loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kzmon.indexer import IndexingError, IndexOptions, index_articles, index_batch_file
from kzmon.indexer.deadletter import DeadLetterBox
from kzmon.indexer.setup import ensure_setup
from kzmon.localstack.ports import free_port

pytestmark = pytest.mark.integration


def _count(es, prefix: str) -> int:
    es.indices.refresh(index=f"{prefix}-articles")
    return es.count(index=f"{prefix}-articles")["count"]


def test_indexing_a_batch_twice_leaves_one_copy(es, prefix, make_record, dead_letter_dir) -> None:
    """Same canonical URLs → same ids: the second run overwrites."""
    ensure_setup(es)
    records = [make_record(i) for i in range(30)]
    first = index_articles(records, es=es, run_id="r1", dead_letter_dir=dead_letter_dir)
    second = index_articles(records, es=es, run_id="r2", dead_letter_dir=dead_letter_dir)
    assert (first.indexed, second.indexed, first.failed) == (30, 30, 0)
    assert sorted(first.doc_ids) == sorted(second.doc_ids)
    assert _count(es, prefix) == 30
    doc = es.get(index=f"{prefix}-articles", id=first.doc_ids[0])["_source"]
    assert doc["run_id"] == "r2" and doc["indexed_at"]


def test_failed_extractions_are_counted_not_indexed(
    es, prefix, make_record, dead_letter_dir
) -> None:
    """Records with "error" are skipped and counted."""
    ensure_setup(es)
    records = [make_record(1), {"url": "https://x/broken", "error": "empty_text"}]
    result = index_articles(records, es=es, dead_letter_dir=dead_letter_dir)
    assert (result.indexed, result.skipped, result.failed) == (1, 1, 0)


def test_rejected_documents_are_dead_lettered_then_indexed_once_fixed(
    es, prefix, make_record, dead_letter_dir
) -> None:
    """Rejects don't stop the batch; they wait in the dead-letter file for the next run."""
    ensure_setup(es)
    good = [make_record(i) for i in range(10)]
    bad = [make_record(100, published_at="last Tuesday"), make_record(101, volume="XII")]
    no_url = {"title": "no url", "text": "x"}
    result = index_articles(good + bad + [no_url], es=es, dead_letter_dir=dead_letter_dir)
    assert (result.indexed, result.failed, result.dead_lettered) == (10, 3, 3)
    assert {e["error"] for e in result.errors} == {"document_parsing_exception", "invalid_record"}
    assert _count(es, prefix) == 10
    box = DeadLetterBox(dead_letter_dir)
    entries = box.entries()
    assert len(entries) == 3

    # Still broken: a rerun retries them first, and they stay dead-lettered (not duplicated).
    again = index_articles([], es=es, dead_letter_dir=dead_letter_dir)
    assert (again.retried_from_dead_letter, again.retry_failed, again.failed) == (3, 3, 0)
    assert len(box.entries()) == 3
    assert {e["attempts"] for e in box.entries()} == {2}
    assert all(set(e) >= {"doc_id", "record", "error", "reason"} for e in box.entries())
    assert not any("_from_box" in e for e in box.entries())

    # An operator fixes the records in the dead-letter file; the next run indexes them.
    fixed = []
    for entry in box.entries():
        record = entry["record"]
        record["published_at"] = "2026-11-02T00:00:00Z"
        record["volume"] = 12
        record.setdefault("canonical_url", "https://example.org/fixed")
        fixed.append(entry)
    for path in box.files():
        path.unlink()
    box.append(fixed)
    final = index_articles([], es=es, dead_letter_dir=dead_letter_dir)
    assert (final.indexed, final.failed) == (3, 0)
    assert box.files() == []
    assert _count(es, prefix) == 13


def test_a_newer_record_supersedes_its_dead_letter(
    es, prefix, make_record, dead_letter_dir
) -> None:
    """A rejected article re-submitted fixed by a later run leaves the dead-letter box."""
    ensure_setup(es)
    index_articles([make_record(5, volume="V")], es=es, dead_letter_dir=dead_letter_dir)
    result = index_articles([make_record(5)], es=es, dead_letter_dir=dead_letter_dir)
    # The new record and the dead-lettered one share an id: the newer one is sent.
    assert (result.retried_from_dead_letter, result.indexed, result.failed) == (1, 1, 0)
    assert DeadLetterBox(dead_letter_dir).entries() == []
    assert _count(es, prefix) == 1


def test_unreachable_cluster_fails_loudly_and_loses_nothing(
    es, prefix, make_record, dead_letter_dir
) -> None:
    """Connection refused: retried, then IndexingError; everything waits for the next run."""
    ensure_setup(es)
    from elasticsearch import Elasticsearch

    closed = Elasticsearch(f"http://127.0.0.1:{free_port()}", max_retries=0, request_timeout=2)
    records = [make_record(i) for i in range(25)]
    with pytest.raises(IndexingError) as raised:
        index_articles(
            iter(records),
            es=closed,
            dead_letter_dir=dead_letter_dir,
            options=IndexOptions(chunk_size=10, initial_backoff=0.05, connection_attempts=2),
        )
    assert raised.value.result.dead_lettered == 25
    rerun = index_articles([], es=es, dead_letter_dir=dead_letter_dir)
    assert (rerun.retried_from_dead_letter, rerun.indexed, rerun.failed) == (25, 25, 0)
    assert _count(es, prefix) == 25
    assert DeadLetterBox(dead_letter_dir).files() == []


def test_index_batch_file_reads_json_lines(
    es, prefix, make_record, dead_letter_dir, tmp_path: Path
) -> None:
    """A JSON-lines batch is indexed; a line that is not JSON is reported."""
    ensure_setup(es)
    path = tmp_path / "articles.jsonl"
    lines = [json.dumps(make_record(i)) for i in range(5)] + ["{not json"]
    path.write_text("\n".join(lines) + "\n")
    result = index_batch_file(path, es=es, dead_letter_dir=dead_letter_dir, refresh=True)
    assert (result.indexed, result.failed) == (5, 1)
    assert result.errors[0]["error"] == "unreadable_line"
    assert es.count(index=f"{prefix}-articles")["count"] == 5


def test_without_setup_nothing_is_auto_created(es, prefix, make_record, dead_letter_dir) -> None:
    """No write alias: the documents are dead-lettered, no index without our mapping appears."""
    result = index_articles([make_record(1)], es=es, dead_letter_dir=dead_letter_dir)
    assert (result.indexed, result.dead_lettered) == (0, 1)
    assert not es.indices.exists(index=f"{prefix}-articles-write")
    ensure_setup(es)
    assert index_articles([], es=es, dead_letter_dir=dead_letter_dir).indexed == 1
