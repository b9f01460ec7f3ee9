"""Crawls of the offline replay, each a real Scrapy subprocess started by `spiders.run.crawl`.

`crawl()` is called many times in this one pytest process, which is what `dag.test()` does.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from spiders.archive import iter_responses
from spiders.canonical import canonicalize
from spiders.registry import get_outlet, load_outlets
from spiders.replay.routes import LATEST_COUNT, RFERL_FAMILY
from spiders.replay.server import read_requests
from spiders.replay.site import load_site
from spiders.run import CrawlResult
from spiders.state import state_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PAGE_FIELDS = {
    "url",
    "canonical_url",
    "outlet",
    "fetched_at",
    "status",
    "content_type",
    "html",
    "encoding",
    "warc_file",
    "warc_record_id",
    "discovered_via",
    "feed_title",
    "feed_published",
}
ERROR_FIELDS = {"url", "outlet", "kind", "status", "detail", "at"}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def site(shared_dir: Path):
    return load_site(shared_dir)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crawl-data")


@pytest.fixture(scope="module")
def first_runs(crawl_many, data_dir: Path) -> dict[str, CrawlResult]:
    """A first incremental crawl of every outlet into a fresh data folder."""
    ids = [o.id for o in load_outlets()]
    results = crawl_many([(oid, {"run_id": "first", "data_dir": data_dir}) for oid in ids])
    return dict(zip(ids, results, strict=True))


def _incremental_expected(site, outlet_id: str) -> set[str]:
    """What a first incremental run finds: everything the outlet lists as recent (for the
    RFE/RL sites their _news/_latest sitemaps; archive parts are backfill's)."""
    articles = site.outlet_articles(outlet_id)
    if outlet_id in RFERL_FAMILY:
        articles = articles[:LATEST_COUNT]
    return {canonicalize(a.url) for a in articles}


def test_every_recent_article_of_every_outlet_exactly_once(first_runs, site) -> None:
    for outlet_id, result in first_runs.items():
        pages = _lines(result.pages_path)
        canonicals = [p["canonical_url"] for p in pages]
        assert len(canonicals) == len(set(canonicals)), outlet_id
        assert set(canonicals) == _incremental_expected(site, outlet_id), outlet_id
        counts = result.summary["counts"]
        assert counts["reconciled"] and sum(counts["outcomes"].values()) == counts["discovered"]
        outlet = get_outlet(outlet_id)
        assert all(outlet.owns_url(p["url"]) for p in pages)  # real URLs, not the replay's


def test_page_records_follow_the_contract_and_point_into_the_warc(first_runs) -> None:
    result = first_runs["rferl"]
    pages = _lines(result.pages_path)
    for page in pages:
        assert set(page) >= PAGE_FIELDS
        assert page["status"] == 200 and page["outlet"] == "rferl"
        assert page["discovered_via"] in {"feed", "sitemap", "news_sitemap", "listing", "archive"}
        assert "<html" in page["html"]
    archived = {r.record_id: r for r in iter_responses(result.run_dir)}
    warc_ids = {record_id: r.url for record_id, r in archived.items()}
    for page in pages:
        record = archived[page["warc_record_id"]]
        assert record.url == page["url"] and record.warc_file == page["warc_file"]
        assert record.body.decode("utf-8") == page["html"]  # extraction can rerun from the WARC
    # every response is archived, feeds and sitemaps included
    assert any(uri.endswith("sitemap.xml") for uri in warc_ids.values())
    summary = result.summary
    assert summary["outlet"] == "rferl" and summary["mode"] == "incremental"
    assert summary["counts"]["new"] == len(pages)


def test_feed_metadata_is_carried(first_runs) -> None:
    pages = _lines(first_runs["moscowtimes"].pages_path)
    from_feed = [p for p in pages if p["discovered_via"] == "feed"]
    assert from_feed and all(p["feed_title"] and p["feed_published"] for p in from_feed)


def test_each_kind_of_dirt_ends_as_an_error_or_a_clean_item(first_runs, replay_dir) -> None:
    def kinds(outlet_id: str) -> dict[str, dict]:
        errors = _lines(first_runs[outlet_id].errors_path)
        assert all(set(e) >= ERROR_FIELDS for e in errors)
        return {e["kind"]: e for e in errors}

    assert kinds("jamestown")["not_html"]["url"].endswith("-pdf/")
    assert "too_large" in kinds("globalvoices")
    assert kinds("rferl")["http_status"]["status"] == 404
    assert "/a/preview/" in kinds("azattyq_ru")["robots_denied"]["url"]
    assert first_runs["katehon"].summary["counts"]["malformed_feeds"] == 1
    # the redirect and the AMP and tracking-parameter copies became one clean item each
    mt = _lines(first_runs["moscowtimes"].pages_path)
    aktobe = [p for p in mt if p["canonical_url"].endswith("-a53180")]
    assert len(aktobe) == 1
    [offsite] = _lines(first_runs["moscowtimes"].errors_path)  # the external link in its feed
    assert offsite["kind"] == "offsite" and "reuters.com" in offsite["url"]
    # the rate-limited page: 429 + Retry-After 1, then fetched after waiting at least that long
    limited = "https://katehon.com/en/article/eurasian-economic-union-and-new-silk-road"
    answers = [r for r in read_requests(replay_dir) if r["url"] == limited]
    assert [r["status"] for r in answers[:2]] == [429, 200]
    assert answers[1]["t"] - answers[0]["t"] >= 1.0
    assert not _lines(first_runs["katehon"].errors_path)
    requested = [r["url"] for r in read_requests(replay_dir)]
    assert not any("/a/preview/" in url for url in requested)  # robots-denied: never fetched
    assert not any("/amp/" in url for url in requested)  # the AMP copy was deduplicated
    assert not any("reuters.com" in url for url in requested)  # offsite: never fetched


#: An Azattyq page whose sitemap lastmod the test makes newer than the state's (and whose
#: remembered hash it changes): the rerun must fetch it again and record it as changed.
CHANGED = "https://www.azattyq.org/a/zhanaozende-narazylyq-gaz-bagasy/31638201.html"
#: One whose remembered hash changes but whose lastmod does not: it must not be fetched.
HASH_ONLY = "https://www.azattyq.org/a/astana-marafony-rekord/34012877.html"


def _edit_state(data_dir: Path) -> None:
    db = sqlite3.connect(state_path(data_dir, "azattyq_kk"))
    with db:
        db.execute(
            "UPDATE pages SET lastmod = '2000-01-01T00:00:00Z', content_hash = 'old'"
            " WHERE canonical_url = ?",
            (CHANGED,),
        )
        db.execute("UPDATE pages SET content_hash = 'old' WHERE canonical_url = ?", (HASH_ONLY,))
        db.execute("DELETE FROM validators")  # as if the sitemaps had changed too
    db.close()


@pytest.fixture(scope="module")
def second_runs(first_runs, crawl_many, data_dir: Path, replay_dir: Path):
    """Second incremental runs (new run ids), a rerun of katehon's first run id, and a rerun of
    azattyq_kk after one page's sitemap lastmod moved on."""
    _edit_state(data_dir)
    before = len(read_requests(replay_dir))
    jobs = [
        ("moscowtimes", {"run_id": "second", "data_dir": data_dir}),
        ("rferl", {"run_id": "second", "data_dir": data_dir}),
        ("katehon", {"run_id": "first", "data_dir": data_dir}),
        ("azattyq_kk", {"run_id": "second", "data_dir": data_dir}),
    ]
    results = crawl_many(jobs)
    return results, read_requests(replay_dir)[before:]


def test_second_run_fetches_no_article_and_sends_conditional_requests(second_runs, site) -> None:
    (mt, rferl, _, _), requests = second_runs
    articles = {canonicalize(u) for u in site.article_urls()} - {CHANGED}
    assert not [r for r in requests if canonicalize(r["url"]) in articles]
    feeds = [
        r
        for r in requests
        if r["url"].endswith(("/rss/news", ".xml", ".xml.gz")) and "azattyq" not in r["url"]
    ]
    assert len(feeds) >= 4 and all("If-None-Match" in r for r in feeds)
    assert all(r["status"] == 304 for r in feeds)
    for result in (mt, rferl):
        assert _lines(result.pages_path) == []
        counts = result.summary["counts"]
        assert counts["new"] == 0 and counts["not_modified_sources"] >= 1


def test_a_page_whose_lastmod_moved_on_is_fetched_again(second_runs) -> None:
    (_, _, _, kk), requests = second_runs
    assert [p["canonical_url"] for p in _lines(kk.pages_path)] == [CHANGED]
    assert kk.summary["counts"]["changed"] == 1 and kk.summary["counts"]["new"] == 0
    assert not [r for r in requests if r["url"] == HASH_ONLY]


def test_backfill_after_incremental_runs_ignores_their_validators(
    second_runs, crawl_many, data_dir: Path, site
) -> None:
    window = {"mode": "backfill", "since": date(2016, 1, 1), "until": date(2016, 12, 31)}
    (result,) = crawl_many([("rferl", {"run_id": "bf-2016", "data_dir": data_dir, **window})])
    # the 2016 article is known from the first run: found again, unchanged, not refetched;
    # every other URL the sitemaps list is dated outside 2016
    counts = result.summary["counts"]
    print(counts["outcomes"])
    assert counts["outcomes"] == {"unchanged": 1, "out_of_range": counts["discovered"] - 1}
    assert counts["not_modified_sources"] == 0 and counts["fetched"] == 0


def test_same_run_id_rerun_neither_loses_nor_duplicates(first_runs, second_runs) -> None:
    (_, _, rerun, _), _ = second_runs
    assert rerun.run_dir == first_runs["katehon"].run_dir
    after = [p["canonical_url"] for p in _lines(rerun.pages_path)]
    assert len(after) == len(set(after)) == 4
    assert len(list((rerun.run_dir / "warc").glob("*.warc.gz"))) == 2


BACKFILL_SINCE, BACKFILL_UNTIL = date(2011, 1, 1), date(2014, 12, 31)
BACKFILL_IDS = ["globalvoices", "rferl", "jamestown"]


@pytest.fixture(scope="module")
def backfill_runs(crawl_many, tmp_path_factory: pytest.TempPathFactory) -> list[CrawlResult]:
    """Backfills 2011-2014 of three outlets, and a crawl with a 1 s timeout (last)."""
    data_dir = tmp_path_factory.mktemp("backfill")
    window = {"mode": "backfill", "since": BACKFILL_SINCE, "until": BACKFILL_UNTIL}
    jobs = [(oid, {"run_id": "bf", "data_dir": data_dir, **window}) for oid in BACKFILL_IDS]
    timeout = {"DOWNLOAD_TIMEOUT": 1, "RETRY_TIMES": 0}
    jobs.append(("azattyq_ru", {"run_id": "t", "data_dir": data_dir, "overrides": timeout}))
    return crawl_many(jobs)


def test_backfill_finds_the_archive_articles_of_a_date_range(backfill_runs, site) -> None:
    for outlet_id, result in zip(BACKFILL_IDS, backfill_runs, strict=False):
        expected = {
            canonicalize(a.url)
            for a in site.articles
            if a.outlet == outlet_id and BACKFILL_SINCE <= a.published.date() <= BACKFILL_UNTIL
        }
        pages = _lines(result.pages_path)
        assert expected and {p["canonical_url"] for p in pages} == expected, outlet_id
        assert result.summary["mode"] == "backfill"
        via = {"globalvoices": "archive", "rferl": "sitemap", "jamestown": "listing"}[outlet_id]
        assert {p["discovered_via"] for p in pages} == {via}


def test_slow_response_beyond_the_timeout_is_recorded(backfill_runs) -> None:
    result = backfill_runs[-1]
    errors = _lines(result.errors_path)
    assert [e["url"] for e in errors if e["kind"] == "timeout"] == [
        "https://rus.azattyq.org/a/inflyatsiya-tenge-nacbank-stavka/34009821.html"
    ]
    assert result.summary["counts"]["fetched"] == LATEST_COUNT - 1
    assert result.summary["counts"]["outcomes"]["timeout"] == 1
