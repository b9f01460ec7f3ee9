"""The scheduled DAG of Azattyq (Kazakh) against its real sitemaps (issue 18, "Done when").

`kzmon_outlet_azattyq_kk` runs through `dag.test()` (crawl subprocess -> enrich -> index into
the real Elasticsearch -> run metrics) while a replay serves ../shared/outlets/feeds/rferl-full
like a static server, with the production politeness (the registry's 1 s delay) and a per-run
cap of 20 pages. The first run must index the 20 newest articles; after an article is added to
the `_news` sitemap (the index unchanged), the next run must fetch it first.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spiders.canonical import canonicalize
from spiders.replay.server import read_requests, start_replay, stop_replay
from tests.crawl.conftest import REAL_HOSTS, environment
from tests.crawl.test_real_sitemaps import _entries

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
OUTLET = "azattyq_kk"
HOST = REAL_HOSTS[OUTLET]
PREFIX = "realkk"
CAP = 20
NEW = f"https://{HOST}/a/zhana-maqala-keste-boiynsha/33499997.html"


@pytest.fixture(scope="module")
def pipeline(es_url, airflow_db, shared_dir: Path):
    """The replay of the real sitemaps (overlay first), own index prefix and data folder."""
    work = Path(tempfile.mkdtemp(prefix="kzmon-real-dag-"))
    overlay = work / "overlay"
    (overlay / HOST).mkdir(parents=True)
    full = shared_dir / "outlets" / "feeds" / "rferl-full"
    with environment(KZMON_SHARED_DIR=str(shared_dir)):
        replay = start_replay(work / "replay", static_dirs=[overlay, full], no_delay=True)
    values = {
        "KZMON_INDEX_PREFIX": PREFIX,
        "KZMON_DATA_DIR": str(work / "data"),
        "KZMON_REPLAY_URL": replay.url,
        "KZMON_CRAWL_MAX_PAGES": str(CAP),
        "KZMON_SHARED_DIR": str(shared_dir),
    }
    try:
        with environment(**values):
            yield work, overlay, full, replay
    finally:
        stop_replay(work / "replay")
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def dag(pipeline):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER)).dags[f"kzmon_outlet_{OUTLET}"]


def _newest(full: Path, count: int) -> list[str]:
    """The newest article URLs of a first run: _news/_latest and the videos of the last days
    (the registry's 3-day lookback from the newest video), by their best date."""
    recent = _entries(full, HOST, include=("_latest.xml.gz", "_news.xml.gz"))
    videos = _entries(full, HOST, include=("_videos.xml.gz",))
    newest_video = max(v["date"] for v in videos.values())
    recent.update({u: v for u, v in videos.items() if v["date"] > newest_video - timedelta(days=3)})
    ordered = sorted(recent, key=lambda url: recent[url]["date"], reverse=True)
    return [canonicalize(url) for url in ordered[:count]]


def _indexed(es) -> set[str]:
    es.indices.refresh(index=f"{PREFIX}-articles")
    hits = es.search(
        index=f"{PREFIX}-articles",
        query={"term": {"outlet": OUTLET}},
        size=500,
        source=["canonical_url"],
    )["hits"]["hits"]
    return {hit["_source"]["canonical_url"] for hit in hits}


def _article_requests(replay_dir: Path, before: int) -> list[str]:
    return [r["url"] for r in read_requests(replay_dir)[before:] if "/a/" in r["url"]]


def test_scheduled_runs_fetch_the_newest_first_and_pick_up_a_new_article(dag, pipeline, es) -> None:
    work, overlay, full, _ = pipeline
    start = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)
    before = len(read_requests(work / "replay"))
    assert dag.test(logical_date=start).state == "success"
    assert _indexed(es) == set(_newest(full, CAP))
    assert len(_article_requests(work / "replay", before)) == CAP
    # an article appears in _news; the index (byte-identical) does not list it
    xml = gzip.decompress((full / HOST / "sitemap_5_news.xml.gz").read_bytes()).decode()
    entry = (
        f"<url><loc>{NEW}</loc><news:news><news:publication><news:name>RFE/RL</news:name>"
        "<news:language>kk</news:language></news:publication><news:publication_date>"
        "2025-05-26T06:00:00Z</news:publication_date><news:title>Жаңа мақала</news:title>"
        "</news:news></url>"
    )
    head, sep, rest = xml.partition("<url>")
    (overlay / HOST / "sitemap_5_news.xml.gz").write_bytes(
        gzip.compress((head + entry + sep + rest).encode(), mtime=0)
    )
    before = len(read_requests(work / "replay"))
    assert dag.test(logical_date=start + timedelta(hours=1)).state == "success"
    requested = _article_requests(work / "replay", before)
    assert requested[0] == NEW  # the newest first
    assert NEW in _indexed(es) and len(requested) == CAP
    runs = sorted((Path(os.environ["KZMON_DATA_DIR"]) / "crawl" / OUTLET).iterdir())
    summaries = [json.loads((run / "summary.json").read_text()) for run in runs]
    assert all(s["committed"] and s["counts"]["reconciled"] for s in summaries)
