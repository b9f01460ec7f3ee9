"""The quality gate: F1 on a subset of the extraction benchmark stays above the floor.

The floor lives in ``quality_baseline.json`` (also read by ``make bench-extract``, which
runs all 181 pages and times both extractors).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enrich.extract.evaluation import (
    load_pages,
    ours,
    page_precision_recall,
    plain_trafilatura,
    score,
    shingles,
)

BASELINE_PATH = Path(__file__).with_name("quality_baseline.json")


def load_baseline() -> dict:
    """The committed floor (the same file ``make bench-extract`` reads)."""
    return json.loads(BASELINE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def subset(shared_dir: Path):
    """The first pages of the benchmark (count from the baseline file)."""
    bench_dir = shared_dir / "benchmarks" / "article-extraction-benchmark"
    return load_pages(bench_dir, limit=load_baseline()["subset_pages"])


def test_f1_on_subset_above_floor_and_not_below_plain_trafilatura(subset) -> None:
    baseline = load_baseline()
    mine = score([ours(page) for page in subset], subset)
    plain = score([plain_trafilatura(page) for page in subset], subset)
    assert mine.f1 >= baseline["subset_f1_floor"], (mine, baseline)
    assert mine.f1 >= plain.f1, (mine, plain)


def test_shingle_scoring() -> None:
    assert shingles("a b c") == {("a", "b", "c"): 1}
    assert sum(shingles("One two three four five").values()) == 2
    assert page_precision_recall("one two three four", "one two three four") == (1.0, 1.0)
    assert page_precision_recall("", "one two three four") == (0.0, 0.0)
    precision, recall = page_precision_recall(
        "one two three four five six", "one two three four five six seven eight"
    )
    assert precision == 1.0
    assert recall == pytest.approx(3 / 5)


def test_baseline_file_is_sane() -> None:
    baseline = load_baseline()
    assert 0.9 <= baseline["f1_floor"] <= 1
    assert baseline["max_time_ratio"] == 1.5
