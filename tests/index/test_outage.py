"""Elasticsearch stopped in the middle of a run: the run fails loudly, a rerun loses nothing.

Uses a node of its own (not the session's), stopped and restarted on the same data folder.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from kzmon.indexer import IndexingError, IndexOptions, index_articles
from kzmon.indexer.deadletter import DeadLetterBox
from kzmon.indexer.setup import ensure_setup
from kzmon.localstack.es_node import start_node, stop_node

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOTAL, STOP_AFTER = 200, 70


@pytest.fixture
def own_node_dir() -> Iterator[Path]:
    """A node folder `nobody` can reach (pytest's tmp_path parent is 0700)."""
    root = Path(tempfile.mkdtemp(prefix="kzmon-outage-"))
    root.chmod(0o755)
    try:
        yield root / "es"
    finally:
        stop_node(root / "es")
        shutil.rmtree(root, ignore_errors=True)


def _records_stopping_the_node(
    records: list[dict[str, Any]], node_dir: Path
) -> Iterator[dict[str, Any]]:
    """Yield the records; stop the node once STOP_AFTER of them were handed over."""
    for n, record in enumerate(records):
        if n == STOP_AFTER:
            assert stop_node(node_dir)
        yield record


def test_node_stopped_mid_run_then_rerun_loses_nothing(
    own_node_dir: Path, make_record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IndexingError after retries; every unindexed document is dead-lettered; rerun = all."""
    monkeypatch.setenv("KZMON_INDEX_PREFIX", "kzoutage")
    info = start_node(own_node_dir)
    client = Elasticsearch(info.url, request_timeout=10, max_retries=0)
    ensure_setup(client)
    records = [make_record(i) for i in range(TOTAL)]
    dead_letters = tmp_path / "dead-letter"
    options = IndexOptions(chunk_size=20, initial_backoff=0.2, connection_attempts=3)

    with pytest.raises(IndexingError) as raised:
        index_articles(
            _records_stopping_the_node(records, own_node_dir),
            es=client,
            dead_letter_dir=dead_letters,
            options=options,
        )
    partial = raised.value.result
    assert 0 < partial.indexed <= STOP_AFTER
    assert partial.indexed + partial.dead_lettered == TOTAL
    assert len(DeadLetterBox(dead_letters).entries()) == TOTAL - partial.indexed

    # Restart on the same data folder and port; the rerun re-sends the same batch.
    start_node(own_node_dir, http_port=info.http_port)
    client = Elasticsearch(info.url, request_timeout=10, max_retries=0)
    rerun = index_articles(records, es=client, dead_letter_dir=dead_letters, refresh=True)
    assert rerun.failed == 0
    assert client.count(index="kzoutage-articles")["count"] == TOTAL
    assert DeadLetterBox(dead_letters).files() == []
    client.close()
