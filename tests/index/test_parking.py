"""Issue #13 item 11: records Elasticsearch keeps rejecting are parked, reported, and stop
being re-sent; the exit status of ``index`` reflects new failures only.

The rejections are the real node's: a date it cannot parse, a string in an integer field, a
latitude out of range, a word in a float field, and a record without a URL (refused before
it is sent). Transient failures (the cluster unreachable) never park a document.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from kzmon.indexer import IndexingError, IndexOptions, index_articles
from kzmon.indexer.bulk import should_park
from kzmon.indexer.deadletter import DeadLetterBox
from kzmon.indexer.setup import ensure_setup
from kzmon.localstack.ports import free_port

pytestmark = pytest.mark.integration


def _rejected(make_record) -> list[dict]:
    bad_geo = make_record(203)
    bad_geo["entities"][0]["geo"] = {"lat": 123.0, "lon": 76.9}
    return [
        make_record(200, published_at="last Tuesday"),
        make_record(201, volume="XII"),
        bad_geo,
        make_record(204, kz_security={"relevant": True, "score": "high", "reasons": []}),
        {"title": "no url at all", "text": "x"},
    ]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kzmon.indexer", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )


def _batch(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_rejected_records_are_parked_after_three_runs_and_later_runs_exit_0(
    es, prefix, make_record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KZMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KZMON_DEAD_LETTER_PARK_AFTER", raising=False)
    ensure_setup(es)
    box = DeadLetterBox(tmp_path / "data" / "dead-letter")
    rejected = _rejected(make_record)

    first = _cli("index", _batch(tmp_path / "1.jsonl", [make_record(1), *rejected]))
    assert first.returncode == 1, first.stderr  # new failures
    one = json.loads(first.stdout)
    assert (one["indexed"], one["failed"], one["dead_lettered"]) == (1, 5, 5)

    second = _cli("index", _batch(tmp_path / "2.jsonl", [make_record(2)]))
    assert second.returncode == 0, second.stderr  # only old dead letters failed again
    two = json.loads(second.stdout)
    assert (two["indexed"], two["retried_from_dead_letter"], two["retry_failed"]) == (1, 5, 5)
    assert (two["failed"], two["parked"]) == (0, 0)

    third = _cli("index", _batch(tmp_path / "3.jsonl", [make_record(3)]))
    assert third.returncode == 0, third.stderr
    three = json.loads(third.stdout)
    assert (three["parked"], three["parked_total"], three["failed"]) == (5, 5, 0)
    reasons = {e["error"] for e in three["parked_entries"]}
    assert reasons == {"document_parsing_exception", "invalid_record"}
    assert all(e["reason"] and e["rejections"] == 3 for e in three["parked_entries"])
    assert "parked" in third.stderr  # said on stderr too, not only in the JSON

    fourth = _cli("index", _batch(tmp_path / "4.jsonl", [make_record(4)]))
    assert fourth.returncode == 0, fourth.stderr
    four = json.loads(fourth.stdout)
    assert (four["retried_from_dead_letter"], four["parked_total"]) == (0, 5)
    assert box.entries() == [] and len(box.parked()) == 5

    # A new rejected record is a new failure again: exit 1.
    fifth = _cli("index", _batch(tmp_path / "5.jsonl", [make_record(205, volume="V")]))
    assert fifth.returncode == 1

    listed = _cli("dead-letters")
    assert listed.returncode == 0
    assert len(json.loads(listed.stdout)["parked"]) == 5
    es.indices.refresh(index=f"{prefix}-articles")
    assert es.count(index=f"{prefix}-articles")["count"] == 4


def test_requeued_and_fixed_or_reindexed_documents_leave_the_parked_file(
    es, prefix, make_record, dead_letter_dir
) -> None:
    ensure_setup(es)
    options = IndexOptions(park_after=1)
    index_articles(
        [make_record(7, volume="VII")], es=es, dead_letter_dir=dead_letter_dir, options=options
    )
    box = DeadLetterBox(dead_letter_dir)
    assert [e["doc_id"] for e in box.parked()] and box.entries() == []

    # The outlet re-publishes the article; the fixed record is indexed and un-parks it.
    fixed = index_articles([make_record(7)], es=es, dead_letter_dir=dead_letter_dir)
    assert (fixed.indexed, fixed.parked_total) == (1, 0)

    # A parked document can be requeued by an operator after a fix (mapping, record edit).
    index_articles(
        [make_record(8, volume="VIII")], es=es, dead_letter_dir=dead_letter_dir, options=options
    )
    assert box.requeue() == 1
    assert box.parked() == [] and box.entries()[0]["rejections"] == 0
    again = index_articles([], es=es, dead_letter_dir=dead_letter_dir)
    assert (again.retried_from_dead_letter, again.retry_failed, again.parked) == (1, 1, 0)


def test_an_unreachable_cluster_never_parks_anything(
    es, prefix, make_record, dead_letter_dir
) -> None:
    """Three runs against a closed port dead-letter the records without a rejection each;
    when the cluster is back they are indexed, none parked."""
    ensure_setup(es)
    down = Elasticsearch(f"http://127.0.0.1:{free_port()}", request_timeout=2)
    quick = IndexOptions(connection_attempts=1, initial_backoff=0.01, park_after=1)
    for run in range(3):
        with pytest.raises(IndexingError):
            index_articles(
                [make_record(30 + run)], es=down, dead_letter_dir=dead_letter_dir, options=quick
            )
    box = DeadLetterBox(dead_letter_dir)
    assert {e["rejections"] for e in box.entries()} == {0}
    assert box.parked() == []
    back = index_articles([], es=es, dead_letter_dir=dead_letter_dir, options=quick)
    assert (back.indexed, back.parked, back.parked_total) == (3, 0, 0)


def test_the_index_task_reports_parked_documents_in_the_run_counts(
    es, prefix, make_record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the DAG's index and record tasks do: parked counts reach the ops index."""
    from kzmon.tasks import index, record_run

    monkeypatch.setenv("KZMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KZMON_DEAD_LETTER_PARK_AFTER", "2")
    batch = _batch(tmp_path / "articles.jsonl", [make_record(1), make_record(9, volume="IX")])
    index({"articles_path": batch}, run_id="r1")
    out = index({"articles_path": _batch(tmp_path / "empty.jsonl", [])}, run_id="r2")
    assert (out["parked"], out["parked_total"], out["index_failed"]) == (1, 1, 0)
    record_run("kzmon_outlet_test", "r2", "moscowtimes", None, out)
    es.indices.refresh(index=f"{prefix}-ops")
    doc = es.get(index=f"{prefix}-ops", id="run:kzmon_outlet_test:r2")["_source"]
    assert (doc["counts"]["parked"], doc["counts"]["parked_total"]) == (1, 1)


def test_should_park_counts_rejections_not_transient_failures() -> None:
    options = IndexOptions(park_after=3, park_after_attempts=20)
    assert not should_park({"rejections": 2, "attempts": 19}, options)
    assert should_park({"rejections": 3, "attempts": 3}, options)
    assert should_park({"rejections": 0, "attempts": 20}, options)
