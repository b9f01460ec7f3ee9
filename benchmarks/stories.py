"""``make bench-stories``: story assignment cost per article against a 1k and a 100k archive.

Starts its own Elasticsearch node (temporary folder), fills a stories index with synthetic
stories standing for an archive of 1,000 and then 100,000 articles (four reports per story,
places, regions and dates spread over ten years), and times the assignment of the same 200
new articles (features of the labelled set's texts, re-dated into the archive's last month)
against each: the candidate query to Elasticsearch plus scoring, median of the per-article
times, and their ratio (target <= 1.5). Then, on the labelled set, clustering time
(features + in-memory assignment) as a share of extract + tag time of the same texts
(extraction timed on the replay's real-template pages).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from elasticsearch import helpers

from kzmon.settings import REPO_ROOT

NEW_ARTICLES = 200
REPORTS_PER_STORY = 4
PLACES = [
    "place:aktobe", "place:atyrau", "place:aktau", "place:zhanaozen", "place:oral",
    "place:taraz", "place:karaganda", "place:kyzylorda", "place:semey", "place:pavlodar",
    "place:kostanay", "place:petropavl", "place:turkistan", "place:almaty", "place:astana",
    "place:shymkent",
]  # fmt: skip


def _members(shared: Path):
    from kzmon.stories.evaluation import load_labelled
    from kzmon.stories.features import article_features
    from kzmon.stories.model import Member

    paths = sorted((REPO_ROOT / "tests" / "stories").glob("labelled_*.yaml"))
    articles, _ = load_labelled(paths, shared)
    return articles, [Member.from_features(article_features(a.record)) for a in articles]


def _synthetic_story(i: int, rng: random.Random, template, end: datetime):
    from kzmon.stories.model import Story
    from kzmon.stories.regions import place_info

    place = PLACES[i % len(PLACES)]
    region = place_info(place).admin1 or place
    when = end - timedelta(days=rng.uniform(0, 3650))
    members = []
    for k in range(REPORTS_PER_STORY):
        published = when + timedelta(hours=6 * k)
        members.append(
            replace(
                template,
                doc_id=f"{i:08x}{k:02x}" + "0" * 54,
                url=f"https://bench.example/{i}/{k}",
                published=published,
                event_date=when.date(),
                place_weights={place: 5.0, region: 1.0},
                region_weights={region: 6.0},
                main_place=place,
                content_hash=f"h{i}-{k}",
                sketch=[rng.getrandbits(62) for _ in range(8)],
            )
        )
    return Story(id=f"s-{i:016x}", members=members)


def _fill(es, index: str, stories: int, template, end: datetime) -> None:
    from kzmon.stories.store import story_document

    rng = random.Random(stories)
    actions = (
        {"_index": index, "_id": s.id, "_source": story_document(s)}
        for s in (_synthetic_story(i, rng, template, end) for i in range(stories))
    )
    helpers.bulk(es, actions, chunk_size=1000, request_timeout=120)
    es.indices.refresh(index=index)


def _time_assign(es, index: str, members) -> list[float]:
    from kzmon.stories.cluster import Clusterer
    from kzmon.stories.store import ElasticStore

    store = ElasticStore(es, index)
    clusterer = Clusterer(store)
    times = []
    for member in members:
        started = time.perf_counter()
        clusterer.assign(member)
        times.append(time.perf_counter() - started)
    return times


def _archive_ratio(es, members, end: datetime) -> dict:
    from kzmon.stories.store import ensure_stories_setup, stories_alias

    ensure_stories_setup(es)
    index = stories_alias()
    recent = [
        replace(
            m,
            published=end - timedelta(days=i % 25),
            event_date=(end - timedelta(days=i % 25)).date(),
        )
        for i, m in enumerate((members * 3)[:NEW_ARTICLES])
    ]
    recent = [replace(m, doc_id=f"new{i:05d}" + m.doc_id[8:]) for i, m in enumerate(recent)]
    out = {}
    for archive in (1_000, 100_000):
        # A fresh index per archive (the local node has no delete-by-query).
        es.options(ignore_status=404).indices.delete(index=f"{index}-v*")
        ensure_stories_setup(es)
        _fill(es, index, archive // REPORTS_PER_STORY, members[0], end)
        _time_assign(es, index, recent[:20])  # warm-up
        times = _time_assign(es, index, recent)
        out[archive] = statistics.median(times) * 1000
        print(f"archive {archive:>7} articles: {out[archive]:.2f} ms per new article (median)")
    ratio = out[100_000] / out[1_000]
    print(f"ratio 100k/1k: {ratio:.2f} (target <= 1.5)")
    return {"ms_per_article_1k": out[1_000], "ms_per_article_100k": out[100_000], "ratio": ratio}


def _share(articles, shared: Path) -> dict:
    from enrich.extract import extract_page
    from enrich.tagging import get_tagger
    from kzmon.stories.batch import cluster_records
    from spiders.replay.site import load_site

    site = load_site(shared)
    pages = []
    for item in site.articles:
        response = site.response_for(item.url)
        if response.status == 200:
            pages.append({"url": item.url, "outlet": item.outlet, "html": response.body.decode()})
    tagger = get_tagger()
    records = [a.record for a in articles]
    started = time.perf_counter()
    for page in pages:
        extract_page(page)
    extract_per = (time.perf_counter() - started) / max(len(pages), 1)
    started = time.perf_counter()
    tagged = [{**r, **tagger.tag(r)} for r in records]
    tag_per = (time.perf_counter() - started) / len(records)
    started = time.perf_counter()
    cluster_records(tagged)
    cluster_per = (time.perf_counter() - started) / len(records)
    share = cluster_per / (extract_per + tag_per) if pages else float("nan")
    print(
        f"per article: extract {extract_per * 1000:.2f} ms ({len(pages)} replay pages), "
        f"tag {tag_per * 1000:.2f} ms, cluster {cluster_per * 1000:.2f} ms "
        f"(features + assignment): {share:.2f}x extract+tag"
    )
    return {
        "extract_ms": extract_per * 1000,
        "tag_ms": tag_per * 1000,
        "cluster_ms": cluster_per * 1000,
        "cluster_share_of_extract_tag": share,
    }


def main() -> int:
    """Run the benchmark on its own node; print figures and a JSON line."""
    import os

    from kzmon.es import get_client
    from kzmon.localstack.es_node import start_node, stop_node

    shared = Path(os.environ.get("KZMON_SHARED_DIR", REPO_ROOT.parent / "shared"))
    articles, members = _members(shared)
    end = datetime(2026, 11, 30, tzinfo=UTC)
    work = Path(tempfile.mkdtemp(prefix="kzmon-bench-stories-"))
    work.chmod(0o755)
    info = start_node(work / "es")
    os.environ["ES_URL"] = info.url
    os.environ["KZMON_INDEX_PREFIX"] = "bench"
    try:
        es = get_client(request_timeout=120)
        result = _archive_ratio(es, members, end)
        result |= _share(articles, shared)
    finally:
        stop_node(work / "es")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
