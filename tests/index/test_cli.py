"""``python -m kzmon.indexer setup | index | retag`` against the real local Elasticsearch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kzmon.indexer", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )


def test_setup_index_and_retag_if_needed(
    es, prefix, make_record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compose init service's `setup`, then a batch file, then `retag --if-needed`."""
    from enrich.tagging import TAXONOMY_VERSION

    monkeypatch.setenv("KZMON_DATA_DIR", str(tmp_path / "data"))
    setup = _cli("setup")
    assert setup.returncode == 0, setup.stderr
    assert json.loads(setup.stdout)["write_index"] == f"{prefix}-articles-v1"
    assert json.loads(_cli("setup").stdout)["created_index"] is None

    batch = tmp_path / "articles.jsonl"
    records = [make_record(i, taxonomy_version=TAXONOMY_VERSION) for i in range(4)]
    batch.write_text("".join(json.dumps(r) + "\n" for r in records))
    indexed = _cli("index", str(batch), "--run-id", "cli-test")
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["indexed"] == 4
    assert es.count(index=f"{prefix}-articles")["count"] == 4

    retag = _cli("retag", "--if-needed")
    assert retag.returncode == 0, retag.stderr
    assert "nothing to re-tag" in retag.stdout


def test_index_exits_non_zero_when_documents_are_dead_lettered(
    es, prefix, make_record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected document makes `index` exit 1 and land in $KZMON_DATA_DIR/dead-letter."""
    monkeypatch.setenv("KZMON_DATA_DIR", str(tmp_path / "data"))
    assert _cli("setup").returncode == 0
    batch = tmp_path / "bad.jsonl"
    batch.write_text(json.dumps(make_record(1, volume="not a number")) + "\n")
    result = _cli("index", str(batch))
    assert result.returncode == 1
    assert json.loads(result.stdout)["dead_lettered"] == 1
    dead = tmp_path / "data" / "dead-letter" / "articles.jsonl"
    assert json.loads(dead.read_text())["record"]["volume"] == "not a number"
