"""Fixtures of the tagging tests: the process-wide tagger."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from enrich.tagging import Tagger, get_tagger


@pytest.fixture(scope="session")
def tagger() -> Tagger:
    """The cached tagger (builds the automaton once)."""
    return get_tagger()


@pytest.fixture
def prefix(es, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh KZMON_INDEX_PREFIX on the session's Elasticsearch node, removed afterwards."""
    value = f"kztag{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("KZMON_INDEX_PREFIX", value)
    yield value
    es.options(ignore_status=404).indices.delete(index=f"{value}-*")
    es.options(ignore_status=404).indices.delete_index_template(name=f"{value}-*")
    for part in ("settings", "mappings", "analysis"):
        es.options(ignore_status=404).cluster.delete_component_template(
            name=f"{value}-articles-{part}"
        )


@pytest.fixture
def dead_letter_dir(tmp_path: Path) -> Path:
    """A dead-letter folder of this test alone."""
    return tmp_path / "dead-letter"
