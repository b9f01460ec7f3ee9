"""``make bench-stories``: story assignment cost per article against a 1k and a 100k archive.

Starts its own Elasticsearch node (temporary folder), fills a stories index with synthetic
stories standing for an archive of 1,000 and then 100,000 articles, and times the assignment
of the same 200 new articles (features of the labelled set's texts, re-dated into the
archive's last month) against each: the candidate query to Elasticsearch plus scoring,
median of the per-article times, and their ratio (target <= 1.5).

An archive grows the way a feed does: at a steady rate (``ARTICLES_PER_DAY``, about what
100,000 articles over ten years are), so the 1k archive is the last five weeks of the 100k
one. What the ratio measures is then what the archive's size costs (the index, the search),
with the same stories in the candidate window; a second line times the 100k archive packed
into the 1k archive's five weeks (100 times denser: more candidates per article), which is
what a busier news month costs, not a bigger archive. Four reports per story, sixteen
places; candidates per article are printed beside each figure.

Then, on the labelled set, clustering time (features + in-memory assignment) as a share of
extract + tag time of the same texts (extraction timed on the replay's real-template pages;
the language comes with the record, as extraction gives it in the pipeline).
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
#: A steady feed: 100,000 articles over ten years.
ARTICLES_PER_DAY = 27.4
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


def _synthetic_story(i: int, rng: random.Random, template, end: datetime, span_days: float):
    from kzmon.stories.model import Story
    from kzmon.stories.regions import place_info

    place = PLACES[i % len(PLACES)]
    region = place_info(place).admin1 or place
    when = end - timedelta(days=rng.uniform(0, span_days))
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


def _fill(es, index: str, stories: int, template, end: datetime, span_days: float) -> None:
    from kzmon.stories.store import story_document

    rng = random.Random(stories)
    actions = (
        {"_index": index, "_id": s.id, "_source": story_document(s)}
        for s in (_synthetic_story(i, rng, template, end, span_days) for i in range(stories))
    )
    helpers.bulk(es.options(request_timeout=120), actions, chunk_size=1000)
    es.indices.refresh(index=index)


def _time_assign(es, index: str, members) -> tuple[list[float], float]:
    """Per-article assignment times and the mean number of candidate stories scored."""
    from kzmon.stories.cluster import Clusterer
    from kzmon.stories.store import ElasticStore

    class Counting(ElasticStore):
        hits = 0

        def _search(self, member):
            found = super()._search(member)
            self.hits += len(found)
            return found

    store = Counting(es, index)
    clusterer = Clusterer(store)
    times = []
    for member in members:
        started = time.perf_counter()
        clusterer.assign(member)
        times.append(time.perf_counter() - started)
    return times, store.hits / max(len(members), 1)


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
    runs = [
        ("1k", 1_000, 1_000 / ARTICLES_PER_DAY),
        ("100k", 100_000, 100_000 / ARTICLES_PER_DAY),
        ("100k-dense", 100_000, 1_000 / ARTICLES_PER_DAY),
    ]
    for name, archive, span_days in runs:
        # A fresh index per archive (the local node has no delete-by-query).
        es.options(ignore_status=404).indices.delete(index=f"{index}-v*")
        ensure_stories_setup(es)
        _fill(es, index, archive // REPORTS_PER_STORY, members[0], end, span_days)
        _time_assign(es, index, recent[:20])  # warm-up
        times, candidates = _time_assign(es, index, recent)
        out[name] = statistics.median(times) * 1000
        out[f"{name}_candidates"] = candidates
        print(
            f"archive {archive:>7} articles over {span_days:>6.0f} days: "
            f"{out[name]:.2f} ms per new article (median), {candidates:.1f} candidate stories"
        )
    ratio = out["100k"] / out["1k"]
    print(f"ratio 100k/1k: {ratio:.2f} (target <= 1.5)")
    print(f"100k packed into 5 weeks / 1k: {out['100k-dense'] / out['1k']:.2f} (denser news)")
    return {
        "ms_per_article_1k": out["1k"],
        "ms_per_article_100k": out["100k"],
        "ratio": ratio,
        "candidates_1k": out["1k_candidates"],
        "candidates_100k": out["100k_candidates"],
        "ms_per_article_100k_dense": out["100k-dense"],
        "candidates_100k_dense": out["100k-dense_candidates"],
    }


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
    records = [{**a.record, "language": a.language} for a in articles]
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
