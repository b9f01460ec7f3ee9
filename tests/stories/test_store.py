"""Stories on the real local Elasticsearch: assignment, reruns, a merge, show, re-clustering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from kzmon.stories.batch import cluster_records

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(es) -> str:
    """A fresh index prefix for this test (its own articles, stories, aliases)."""
    value = "kzst" + uuid.uuid4().hex[:8]
    previous = os.environ.get("KZMON_INDEX_PREFIX")
    os.environ["KZMON_INDEX_PREFIX"] = value
    from kzmon.indexer.setup import ensure_setup

    ensure_setup(es)
    yield value
    es.options(ignore_status=404).indices.delete(index=f"{value}-*", expand_wildcards="all")
    if previous is None:
        os.environ.pop("KZMON_INDEX_PREFIX", None)
    else:
        os.environ["KZMON_INDEX_PREFIX"] = previous


def _tagged(records: list[dict]) -> list[dict]:
    from enrich.tagging import get_tagger

    tagger = get_tagger()
    return [{**r, "language": None, **tagger.tag(r)} for r in records]


def _index(es, records: list[dict], tmp_path) -> None:
    from kzmon.indexer import index_articles

    result = index_articles(records, es=es, dead_letter_dir=tmp_path / "dl", refresh=True)
    assert result.failed == 0, result.errors


def _story_ids(es, prefix: str) -> dict[str, str]:
    es.indices.refresh(index=f"{prefix}-articles")
    hits = es.search(index=f"{prefix}-articles", size=500, source=["url", "story_id"])
    return {h["_source"]["url"]: h["_source"].get("story_id") for h in hits["hits"]["hits"]}


def _partition(mapping: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for url, story in mapping.items():
        groups.setdefault(story, set()).add(url)
    return {frozenset(g) for g in groups.values()}


def test_assign_rerun_reindex_show_recluster(es, prefix: str, labelled, tmp_path) -> None:
    from kzmon.stories.store import assign_stories, get_story, recluster

    articles, _ = labelled
    records = [a.record for a in articles[:45]]
    _index(es, _tagged(records), tmp_path)
    report = assign_stories(es)
    assert report.articles == len(records) and report.failed == 0
    ids = _story_ids(es, prefix)
    assert all(ids.values())
    # The index path groups exactly like the standalone batch on the same articles.
    batch = {r["url"]: r["story_id"] for r in cluster_records(records).rows}
    assert _partition(ids) == _partition(batch)
    assert ids == batch  # same ids too: both derive them from the founding article
    # A rerun changes nothing.
    assert assign_stories(es).articles == 0
    assert _story_ids(es, prefix) == ids
    # The indexer re-writes some articles (story_id gone): they get the same story back.
    _index(es, _tagged(records[:10]), tmp_path)
    again = assign_stories(es)
    assert again.articles == 10 and again.new_stories == 0
    assert _story_ids(es, prefix) == ids
    # show: the story with its articles, also from the CLI.
    some = next(iter(ids.values()))
    shown = get_story(some, es)
    assert shown["story_id"] == some and shown["articles"]
    proc = subprocess.run(
        [sys.executable, "-m", "kzmon.stories", "show", some],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["story_id"] == some
    # Re-clustering into a new index version keeps the same stories and swaps the alias.
    rebuilt = recluster(es)
    assert rebuilt.target_index.endswith("-v2")
    assert _story_ids(es, prefix) == ids
    assert es.count(index=f"{prefix}-incidents")["count"] == rebuilt.incidents > 0


BRIDGE_DAY = "2026-11-03"


def _bridge_records() -> list[dict]:
    base = "https://example.org/bridge/"
    return [
        {
            "url": base + "a",
            "outlet": "rferl",
            "published_at": f"{BRIDGE_DAY}T08:00:00+00:00",
            "title": "Explosion reported in western Kazakhstan",
            "text": "An explosion went off near a police station in western Kazakhstan on "
            "November 3, officials said. The bomb was hidden in a parked car.",
        },
        {
            "url": base + "b",
            "outlet": "azattyq_ru",
            "published_at": f"{BRIDGE_DAY}T10:00:00+05:00",
            "title": "В Актау погиб полицейский",
            "text": "В Актау 3 ноября погиб сотрудник полиции, сообщили в МВД Мангистауской "
            "области. Подробности не сообщаются.",
        },
        {
            "url": base + "c",
            "outlet": "rferl",
            "published_at": f"{BRIDGE_DAY}T15:00:00+00:00",
            "title": "Car bomb explosion near police station in western Kazakhstan kills officer",
            "text": "A car bomb explosion near a police station in the Kazakh city of Aktau on "
            "November 3 killed one police officer, the Interior Ministry said. The bomb "
            "was hidden in a parked car outside the station.",
        },
    ]


def test_a_bridging_report_merges_two_stories(es, prefix: str, tmp_path) -> None:
    from kzmon.stories.store import assign_stories, get_story, resolve_story_id

    first, second, bridge = _tagged(_bridge_records())
    _index(es, [first, second], tmp_path)
    assign_stories(es)
    before = _story_ids(es, prefix)
    assert before[first["url"]] != before[second["url"]]
    _index(es, [bridge], tmp_path)
    report = assign_stories(es)
    assert report.merges, report
    after = _story_ids(es, prefix)
    assert len(set(after.values())) == 1
    survivor = after[first["url"]]
    absorbed = ({before[first["url"]], before[second["url"]]} - {survivor}).pop()
    assert resolve_story_id(es, absorbed) == survivor
    shown = get_story(absorbed, es)
    assert shown["story_id"] == survivor and absorbed in shown["aliases"]
