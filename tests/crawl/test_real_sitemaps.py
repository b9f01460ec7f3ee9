"""Crawls of the real RFE/RL and Azattyq sitemaps (issue 18), each a real Scrapy subprocess.

The sitemaps are read in place from ../shared/outlets/feeds/rferl-full/ and served like a
static server (ETag/Last-Modified, 304); article pages are the replay's synthetic stand-ins.
A change on the site is simulated by writing a modified copy of one file into the overlay
folder that the server looks in first. Expected counts come from an independent recount with
plain lxml (`_entries`), not from the crawl's own code.
"""

from __future__ import annotations

import gzip
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree

from spiders.canonical import canonicalize
from spiders.frontier import read_outcomes
from spiders.replay.server import read_requests
from spiders.state import CrawlState, state_path
from tests.crawl.conftest import REAL_HOSTS, RealSites

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTLET = "azattyq_kk"
HOST = REAL_HOSTS[OUTLET]
NEWS = "sitemap_5_news.xml.gz"
PART_1 = "sitemap_5_1.xml.gz"
#: A first run capped at a few hundred pages (issue 18, item 5) and one at fifty.
CAP, SMALL_CAP = 300, 50
ADDED_NEWS = f"https://{HOST}/a/zhanga-habar-qosyldy/33499999.html"
ADDED_ARCHIVE = f"https://{HOST}/a/muragat-boligine-qosyldy/33499998.html"
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"
VIDEO_NS = "{http://www.google.com/schemas/sitemap-video/1.1}"
ARTICLE = re.compile(r"^https://[^/]+/a/([^/]+/)?\d+\.html$")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _fetched(result) -> set[str]:
    return {p["canonical_url"] for p in _lines(result.pages_path)}


# ---------------------------------------------------------------------- independent recount
def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _entries(full: Path, host: str, *, include: tuple[str, ...] = ()) -> dict[str, dict]:
    """url -> {date, source, lastmod} over every urlset of the host except sections, each URL
    dated by its best date: news, then video publication date, then lastmod."""
    rank = {"news": 0, "video": 1, "lastmod": 2}
    out: dict[str, dict] = {}
    for path in sorted((full / host).glob("*.xml.gz")):
        if "_sections" in path.name or (include and not path.name.endswith(include)):
            continue
        root = etree.fromstring(gzip.decompress(path.read_bytes()))
        for url in root.iterfind("s:url", NS):
            loc = url.findtext("s:loc", namespaces=NS).strip()
            if not ARTICLE.match(loc):
                continue
            found = [
                ("news", _when(url.findtext(f".//{NEWS_NS}publication_date"))),
                ("video", _when(url.findtext(f".//{VIDEO_NS}publication_date"))),
                ("lastmod", _when(url.findtext("s:lastmod", namespaces=NS))),
            ]
            source, when = next(((s, w) for s, w in found if w), (None, None))
            lastmod = found[2][1]
            old = out.get(loc)
            if old is None or (source and rank[source] < rank.get(old["source"] or "", 9)):
                out[loc] = {"date": when, "source": source, "lastmod": lastmod}
    return out


def _dated_in(entries: dict[str, dict], since: date, until: date) -> set[str]:
    """URLs dated in [since, until] (UTC), lastmods shared by 10+ URLs not counting."""
    shared: dict[datetime, int] = {}
    for entry in entries.values():
        if entry["lastmod"]:
            shared[entry["lastmod"]] = shared.get(entry["lastmod"], 0) + 1
    chosen = set()
    for url, entry in entries.items():
        if entry["source"] == "lastmod" and shared[entry["lastmod"]] >= 10:
            continue
        if entry["date"] and since <= entry["date"].astimezone(UTC).date() <= until:
            chosen.add(canonicalize(url))
    return chosen


# ---------------------------------------------------------------------- site changes
def _add_entry(source: Path, target: Path, entry: str) -> None:
    """Write a copy of a gzipped urlset with one more entry first (the site changed)."""
    xml = gzip.decompress(source.read_bytes()).decode("utf-8")
    head, sep, rest = xml.partition("<url>")
    target.write_bytes(gzip.compress((head + entry + sep + rest).encode("utf-8"), mtime=0))


@pytest.fixture(scope="module")
def first_runs(real_sites: RealSites, tmp_path_factory: pytest.TempPathFactory):
    """A first incremental run of azattyq_kk capped at 300 pages, and one capped at 50."""
    data, small = tmp_path_factory.mktemp("real-kk"), tmp_path_factory.mktemp("real-kk-small")
    before = len(read_requests(real_sites.run_dir))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [
            pool.submit(
                real_sites.crawl,
                OUTLET,
                run_id="first",
                data_dir=folder,
                overrides={"KZMON_MAX_PAGES": cap},
            )
            for folder, cap in ((data, CAP), (small, SMALL_CAP))
        ]
        first, capped = (run.result() for run in runs)
    requests = [r for r in read_requests(real_sites.run_dir)[before:] if HOST in r["url"]]
    return data, first, requests, capped


def test_first_incremental_run_fetches_the_latest_articles_not_the_archive(
    first_runs, real_sites: RealSites
) -> None:
    _, first, requests, _ = first_runs
    latest = _entries(real_sites.full, HOST, include=("_latest.xml.gz", "_news.xml.gz"))
    fetched = _fetched(first)
    assert {canonicalize(u) for u in latest} <= fetched  # every _news and _latest article
    counts = first.summary["counts"]
    assert counts["discovered"] < CAP and counts["outcomes"] == {"fetched": counts["discovered"]}
    assert counts["reconciled"]
    sitemaps = {r["url"].rsplit("/", 1)[1] for r in requests if ".xml" in r["url"]}  # both runs
    assert sitemaps == {"sitemap.xml", NEWS, "sitemap_5_latest.xml.gz", "sitemap_5_videos.xml.gz"}
    # the video pages of the newest days are articles too (docs/crawl.md), dated by the sitemap
    videos = [p for p in _lines(first.pages_path) if p["discovered_via"] == "video_sitemap"]
    assert videos and all(p["date_source"] == "video" and p["feed_title"] for p in videos)
    rss_mib = first.summary["perf"]["peak_rss_kib"] / 1024
    print(f"first incremental run of {OUTLET}: {counts['discovered']} URLs, {rss_mib:.0f} MiB")
    assert rss_mib < 300  # 745 MB when every archive part was walked (issue 18)


def test_a_capped_first_run_takes_the_newest_first(first_runs) -> None:
    _, first, _, capped = first_runs
    dates = {p["canonical_url"]: p["feed_published"] for p in _lines(first.pages_path)}
    newest = sorted(dates, key=lambda url: dates[url], reverse=True)[:SMALL_CAP]
    assert _fetched(capped) == set(newest)
    counts = capped.summary["counts"]
    assert counts["outcomes"] == {"fetched": SMALL_CAP, "capped": counts["discovered"] - SMALL_CAP}
    assert capped.summary["limits_hit"]["page_cap"].startswith(f"{SMALL_CAP} pages")
    assert "page_cap" in {e["kind"] for e in _lines(capped.errors_path)}


def test_an_article_added_to_news_is_fetched_while_the_index_is_unchanged(
    first_runs, real_sites: RealSites
) -> None:
    data, _, _, _ = first_runs
    entry = (
        f"<url><loc>{ADDED_NEWS}</loc><news:news><news:publication><news:name>RFE/RL</news:name>"
        "<news:language>kk</news:language></news:publication><news:publication_date>"
        "2025-05-25T12:00:00Z</news:publication_date><news:title>Жаңа хабар</news:title>"
        "</news:news></url>"
    )
    _add_entry(real_sites.full / HOST / NEWS, real_sites.overlay / HOST / NEWS, entry)
    before = len(read_requests(real_sites.run_dir))
    second = real_sites.crawl(OUTLET, run_id="second", data_dir=data)
    requests = read_requests(real_sites.run_dir)[before:]
    assert _fetched(second) == {ADDED_NEWS}
    status = {r["url"].rsplit("/", 1)[1]: r["status"] for r in requests if ".xml" in r["url"]}
    assert status == {
        "sitemap.xml": 304,  # byte-identical index: says nothing about _news
        NEWS: 200,
        "sitemap_5_latest.xml.gz": 304,
        "sitemap_5_videos.xml.gz": 304,
    }
    assert second.summary["counts"]["outcomes"] == {"fetched": 1, "unchanged": 11}


def test_an_archive_part_is_read_only_when_its_lastmod_moved(
    first_runs, real_sites: RealSites
) -> None:
    data, _, _, _ = first_runs
    entry = f"<url><loc>{ADDED_ARCHIVE}</loc><lastmod>2025-04-21T09:00:00Z</lastmod></url>"
    _add_entry(real_sites.full / HOST / PART_1, real_sites.overlay / HOST / PART_1, entry)
    index = (real_sites.full / HOST / "sitemap.xml").read_text(encoding="utf-8")
    moved = index.replace(
        f"{PART_1}</loc><lastmod>2025-04-20T13:44:34.7204949Z",
        f"{PART_1}</loc><lastmod>2025-04-21T09:05:00Z",
    )
    assert moved != index
    (real_sites.overlay / HOST / "sitemap.xml").write_text(moved, encoding="utf-8")
    before = len(read_requests(real_sites.run_dir))
    third = real_sites.crawl(OUTLET, run_id="third", data_dir=data)
    requested = {r["url"].rsplit("/", 1)[1] for r in read_requests(real_sites.run_dir)[before:]}
    assert _fetched(third) == {ADDED_ARCHIVE}  # the part's 20,000 older entries stay history
    assert PART_1 in requested and not {f"sitemap_5_{n}.xml.gz" for n in range(2, 9)} & requested
    for name in (PART_1, "sitemap.xml"):
        (real_sites.overlay / HOST / name).unlink()


def test_backfill_of_a_month_matches_an_independent_count(
    real_sites: RealSites, tmp_path_factory: pytest.TempPathFactory
) -> None:
    since, until = date(2025, 4, 1), date(2025, 4, 30)  # part 1 and _latest
    expected = _dated_in(_entries(real_sites.full, HOST), since, until)
    result = real_sites.crawl(
        OUTLET,
        run_id="bf-2025-04",
        mode="backfill",
        since=since,
        until=until,
        data_dir=tmp_path_factory.mktemp("real-bf"),
    )
    assert len(expected) > 200 and len(expected) < 300
    assert _fetched(result) == expected
    counts = result.summary["counts"]
    assert counts["outcomes"]["fetched"] == len(expected) and counts["reconciled"]
    assert set(counts["outcomes"]) == {"fetched", "out_of_range"}  # no mass stamp after 2010
    print(f"backfill {since}..{until}: {len(expected)} of {counts['discovered']} URLs")


def test_mass_stamped_entries_are_undated_and_dated_from_their_pages(
    real_sites: RealSites, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """rferl.org: 14,202 URLs share lastmod 2012-02-02T16:23:37.7Z. A backfill of that day
    does not date them by it. The default policy dates them from their pages, after the dated
    entries (the per-run cap leaves the rest for later runs), and remembers those dates; the
    skip policy records them as undated."""
    data = tmp_path_factory.mktemp("real-rferl")
    day = {"mode": "backfill", "since": date(2012, 2, 2), "until": date(2012, 2, 2)}
    expected = _dated_in(_entries(real_sites.full, "www.rferl.org"), day["since"], day["until"])
    cap = len(expected) + 40
    fetch = real_sites.crawl(
        "rferl", run_id="fetch", data_dir=data, overrides={"KZMON_MAX_PAGES": cap}, **day
    )
    rows = read_outcomes(fetch.run_dir / "frontier.sqlite")
    page_dated = {
        url
        for url, (outcome, detail) in rows.items()
        if outcome == "out_of_range" and (detail or "").startswith("page dated")
    }
    fetched = {url for url, (outcome, _) in rows.items() if outcome == "fetched"}
    assert fetched >= expected and len(page_dated) + len(fetched) == cap
    assert fetch.summary["counts"]["outcomes"]["capped"] > 13000  # left for later runs
    state = CrawlState(state_path(data, "rferl"))
    try:
        assert "2012-02-02T16:23:37.700000Z" in state.mass_stamps()
        assert all(state.page_date(url) for url in page_dated)
    finally:
        state.close()
    skip = {"KZMON_BACKFILL_UNDATED": "skip"}
    again = real_sites.crawl("rferl", run_id="again", data_dir=data, overrides=skip, **day)
    rows = read_outcomes(again.run_dir / "frontier.sqlite")
    remembered = {
        url
        for url, (outcome, detail) in rows.items()
        if outcome == "out_of_range" and "earlier fetch" in (detail or "")
    }
    assert remembered == page_dated  # dated without a second fetch
    outcomes = again.summary["counts"]["outcomes"]
    assert outcomes["undated"] >= 14000 - len(page_dated) and "fetched" not in outcomes
    assert outcomes["unchanged"] >= len(expected)


def test_a_video_sitemap_over_the_size_limit_is_recorded_not_lost(
    real_sites: RealSites, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = real_sites.crawl(
        OUTLET,
        run_id="small-limit",
        data_dir=tmp_path_factory.mktemp("real-limit"),
        overrides={"KZMON_SITEMAP_MAX_BYTES": 10 * 1024 * 1024},
    )
    [error] = [e for e in _lines(result.errors_path) if "videos" in e["url"]]
    assert error["kind"] == "sitemap_too_large" and "10485760" in error["detail"]
    [source] = [s for s in _lines(result.run_dir / "sources.jsonl") if "videos" in s["url"]]
    assert source["status"] == "refused"
    assert result.summary["counts"]["errors_by_kind"] == {"sitemap_too_large": 1}


def test_the_time_limit_ends_a_run_with_every_url_accounted_for(
    real_sites: RealSites, tmp_path_factory: pytest.TempPathFactory
) -> None:
    slow = {"DOWNLOAD_DELAY": 0.25, "CLOSESPIDER_TIMEOUT": 6}
    result = real_sites.crawl(
        "azattyq_ru", run_id="slow", data_dir=tmp_path_factory.mktemp("real-slow"), overrides=slow
    )
    counts = result.summary["counts"]
    assert result.summary["perf"]["finish_reason"] == "closespider_timeout"
    assert counts["outcomes"]["time_limit"] > 50 and counts["outcomes"]["fetched"] > 0
    assert counts["reconciled"] and "run_time_limit" in result.summary["limits_hit"]
    assert result.summary["committed"]
