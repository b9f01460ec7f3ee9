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


def test_a_bridging_report_merges_two_stories(es, prefix: str, tmp_path, bridge_records) -> None:
    from kzmon.stories.store import assign_stories, get_story, resolve_story_id

    first, second, bridge = _tagged(bridge_records)
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


def _many_reports(n: int, start: str = "2026-11-05T06:00:00+00:00") -> list:
    """Members of one story of `n` reports (a week of coverage), deaths growing 3 → 12."""
    from dataclasses import replace
    from datetime import datetime, timedelta

    from kzmon.stories.features import article_features
    from kzmon.stories.model import Member

    base = Member.from_features(
        article_features(
            {
                "url": "https://example.org/many/0",
                "outlet": "rferl",
                "published_at": start,
                "title": "Gunmen attack police station in Aktobe",
                "text": "Gunmen attacked a police station in Aktobe on November 5, killing "
                "three police officers, the Interior Ministry said.",
            }
        )
    )
    first = datetime.fromisoformat(start)
    out = []
    for i in range(n):
        out.append(
            replace(
                base,
                doc_id=f"{i:064x}",
                url=f"https://example.org/many/{i}",
                outlet=f"outlet{i % 40}",
                published=first + timedelta(minutes=7 * i),
                counts={**base.counts, "fatalities": [3 + i % 10, 3 + i % 10]},
                content_hash=f"h{i}",
                sketch=[],
            )
        )
    return out


def test_a_very_large_story_stays_a_bounded_document() -> None:
    """Offline: 1,500 reports make a document of a bounded size whose counts cover all."""
    from kzmon.stories.model import MAX_MEMBER_IDS, MAX_MEMBERS, Story
    from kzmon.stories.store import story_document, story_from_document

    members = _many_reports(1500)
    story = Story(id="s-many", members=[members[0]])
    for m in members[1:]:
        story.add(m)
    doc = story_document(story)
    assert doc["article_count"] == 1500 and len(doc["members"]) == MAX_MEMBERS
    assert len(doc["member_ids"]) == MAX_MEMBER_IDS and members[-1].doc_id in doc["member_ids"]
    assert len(doc["outlets"]) == 40
    assert (
        doc["incident"]["fatalities"] == {"min": 12, "max": 12}
        or doc["incident"]["fatalities"]["max"] == 12
    )
    assert doc["incident"]["source_count"] == 1500 and len(doc["incident"]["sources"]) <= 50
    assert doc["incident"]["first_reported"] == members[0].published.isoformat()
    assert len(json.dumps(doc)) < 600_000
    # Back from the document: the same story to score against, the same record.
    again = story_from_document(json.loads(json.dumps(doc)))
    assert again.size == 1500 and again.profile.size == 1500
    assert story_document(again)["incident"] == doc["incident"]


def test_a_large_story_in_the_index(es, prefix: str) -> None:
    """On the index: the folded reports' tally survives a round trip and a merge moves the
    absorbed story's folded reports to the survivor."""
    from kzmon.stories.cluster import Clusterer
    from kzmon.stories.model import Story
    from kzmon.stories.store import ElasticStore, ensure_stories_setup, stories_alias

    ensure_stories_setup(es)
    members = _many_reports(260)
    store = ElasticStore(es, stories_alias())
    big = Story(id="s-big", members=[members[0]])
    small = Story(id="s-small", members=[members[200]])
    for m in members[1:200]:
        big.add(m)
    for m in members[201:]:
        small.add(m)
    store.save(big)
    store.save(small)
    store.flush()
    loaded = ElasticStore(es, stories_alias())
    found = loaded.story_of(members[150].doc_id)
    assert found is not None and found.id == "s-big" and found.size == 200
    other = loaded.story_of(members[230].doc_id)
    survivor = Clusterer(loaded)._merge_bridged(found, [other])[0]
    loaded.save(survivor)
    pairs = dict(loaded.flush())
    assert pairs[members[230].doc_id] == "s-big" and len(pairs) == 60
    merged = ElasticStore(es, stories_alias()).story_of(members[259].doc_id)
    assert merged.id == "s-big" and merged.size == 260
