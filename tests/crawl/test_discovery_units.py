"""Offline tests of discovery's parts: the streamed sitemap reader on the real RFE/RL files and
on hostile bytes, child roles, dates, the frontier, the crawl state's two phases, canonical
URLs, the redirect guard, limits and the registry schema."""

from __future__ import annotations

import gzip
import os
import re
import zlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree

from spiders.canonical import canonicalize
from spiders.crawl_settings import crawl_limits
from spiders.dating import best_date, iso_utc, parse_date, plausible, url_date
from spiders.frontier import Candidate, Frontier
from spiders.middlewares import is_private_host, redirect_refusal
from spiders.registry import Outlet, get_outlet, load_outlets
from spiders.sitemaps import (
    ChildSitemap,
    SitemapEntry,
    SitemapReader,
    SitemapRefused,
    classify_child,
    declares_entities,
)
from spiders.state import CrawlState

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def full(shared_dir: Path) -> Path:
    return shared_dir / "outlets" / "feeds" / "rferl-full"


def _real_files(full: Path) -> list[Path]:
    return sorted(full.glob("*/*.xml*"))


# ---------------------------------------------------------------------- the sitemap reader
def test_the_reader_reads_the_real_files_entry_for_entry(full: Path) -> None:
    files = _real_files(full)
    assert len(files) == 39  # 3 indexes, 36 parts (SOURCE.txt)
    kinds = ("sitemap.xml", "_1.xml.gz", "_news.xml.gz", "_latest.xml.gz", "_videos.xml.gz")
    for path in [p for p in files if p.name.endswith(kinds)]:
        body = path.read_bytes()
        xml = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        root = etree.fromstring(xml)
        expected = [e.findtext(f"{{{NS}}}loc").strip() for e in root if len(e)]
        reader = SitemapReader(body, max_bytes=50 * MIB)
        entries = list(reader)
        assert [e.loc for e in entries] == expected, path.name
        assert reader.kind == etree.QName(root).localname
        assert reader.uncompressed_bytes == len(xml)


def test_news_and_video_fields_are_read(full: Path) -> None:
    news = list(
        SitemapReader((full / "www.azattyq.org/sitemap_5_news.xml.gz").read_bytes(), max_bytes=MIB)
    )
    assert len(news) == 11 and all(e.news_date and e.news_title for e in news)
    videos = SitemapReader(
        (full / "rus.azattyq.org/sitemap_6_videos.xml.gz").read_bytes(), max_bytes=50 * MIB
    )
    entries = [e for e in videos if isinstance(e, SitemapEntry)]
    assert len(entries) == 6377 and all(e.video_date and not e.lastmod for e in entries)
    assert all("\n" not in (e.video_title or "") for e in entries)


def _gzip_bomb(mib: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(f'<urlset xmlns="{NS}">'.encode())]
    parts += [compressor.compress(b" " * MIB) for _ in range(mib)]
    return b"".join([*parts, compressor.compress(b"</urlset>"), compressor.flush()])


LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.org/&c;</loc></url>
</urlset>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY s SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&s;</loc></url></urlset>"""
PARAMETER = b"""<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY % p SYSTEM "http://x/e.dtd"> %p;]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>"""


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (_gzip_bomb(60), "sitemap_too_large"),
        (b'<urlset xmlns="' + NS.encode() + b'">' + b" " * (2 * MIB) + b"</urlset>", "too_big"),
        (LAUGHS, "xml_entities"),
        (gzip.compress(LAUGHS), "xml_entities"),
        (XXE, "xml_entities"),
        (PARAMETER, "xml_entities"),
        (b"<html><body>502 Bad Gateway</body></html>", "sitemap_malformed"),
        (b"", "sitemap_malformed"),
        (b"not xml at all", "sitemap_malformed"),
        (gzip.compress(b'<urlset xmlns="' + NS.encode() + b'"/>' * 50)[:40], "sitemap_malformed"),
        (b"\x1f\x8b\x08\x00garbage-after-a-gzip-magic", "sitemap_malformed"),
    ],
    ids=[
        "gzip-bomb",
        "plain-oversize",
        "laughs",
        "laughs-gz",
        "xxe",
        "param-entity",
        "html",
        "empty",
        "text",
        "truncated-gzip",
        "broken-gzip",
    ],
)
def test_hostile_sitemaps_are_refused_with_a_named_kind(body: bytes, kind: str) -> None:
    limit = MIB if kind == "too_big" else 50 * MIB
    with pytest.raises(SitemapRefused) as refused:
        list(SitemapReader(body, max_bytes=limit))
    assert refused.value.kind == ("sitemap_too_large" if kind == "too_big" else kind)


def test_a_bomb_is_stopped_early_and_concatenated_gzip_members_are_read() -> None:
    reader = SitemapReader(_gzip_bomb(200), max_bytes=10 * MIB)
    with pytest.raises(SitemapRefused):
        list(reader)
    assert reader.uncompressed_bytes < 11 * MIB  # stopped at the limit, not at 200 MiB
    first = f'<urlset xmlns="{NS}"><url><loc>https://x.org/a/1.html</loc></url>'.encode()
    second = b"<url><loc>https://x.org/a/2.html</loc></url></urlset>"
    members = gzip.compress(first) + gzip.compress(second)
    assert [e.loc for e in SitemapReader(members, max_bytes=MIB)] == [
        "https://x.org/a/1.html",
        "https://x.org/a/2.html",
    ]


def test_feeds_declaring_entities_are_recognised_but_an_external_dtd_is_fine() -> None:
    assert declares_entities(LAUGHS.replace(b"urlset", b"rss"))
    rss091 = (
        b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91'
        b'//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"/>'
    )
    assert not declares_entities(rss091)
    assert not declares_entities(b"<rss><channel/></rss>") and not declares_entities(b"& broken")


# ---------------------------------------------------------------------- roles
EXPECTED_ROLES = {"news": "news", "latest": "latest", "videos": "videos", "sections": "sections"}


@pytest.mark.parametrize("outlet_id", ["rferl", "azattyq_kk", "azattyq_ru"])
def test_the_registry_classifies_the_children_of_the_real_indexes(outlet_id, full) -> None:
    outlet = get_outlet(outlet_id)
    [source] = outlet.sitemaps
    index = full / outlet.host / "sitemap.xml"
    children = list(SitemapReader(index.read_bytes(), max_bytes=MIB))
    assert all(isinstance(c, ChildSitemap) for c in children)
    for child in children:
        kind = re.search(r"_([a-z0-9]+)\.xml", child.loc).group(1)
        expected = EXPECTED_ROLES.get(kind, "archive")
        assert classify_child(child.loc, source.child_rules) == expected, child.loc
        assert (child.lastmod is None) == (expected != "archive")  # as the issue says


def test_default_child_roles_by_name() -> None:
    assert classify_child("https://x.org/newsmap/news.xml") == "news"
    assert classify_child("https://x.org/sitemap-latest.xml") == "latest"
    assert classify_child("https://x.org/video-sitemap.xml") == "videos"
    assert classify_child("https://x.org/sitemap_categories.xml") == "sections"
    assert classify_child("https://x.org/sitemap/2016-6.xml") == "archive"
    assert classify_child("https://x.org/sitemap-posttag.xml") == "archive"


def test_entries_in_todays_schema_keep_loading_with_defaults() -> None:
    entry = {
        "id": "newoutlet",
        "name": "New Outlet",
        "languages": ["ru"],
        "base_url": "https://example.kz",
        "allowed_domains": ["example.kz"],
        "article_patterns": [r"^https://example\.kz/news/\d+$"],
        "feeds": [{"url": "https://example.kz/rss"}],
        "sitemaps": [{"url": "https://example.kz/sitemap.xml", "modes": ["backfill"]}],
    }
    outlet = Outlet(**entry)
    assert outlet.sitemaps[0].role == "auto" and outlet.sitemaps[0].children == ()
    assert outlet.backfill_undated == "fetch" and outlet.max_pages_per_run is None
    with pytest.raises(ValueError):
        Outlet(**{**entry, "sitemaps": [{"url": "https://example.kz/s.xml", "role": "bogus"}]})


def test_extra_registry_files_add_outlets(monkeypatch, tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "outlets:\n  - {id: trial, name: Trial, languages: [kk], base_url: https://t.kz,"
        " allowed_domains: [t.kz], article_patterns: ['^https://t\\.kz/a/\\d+$']}\n"
    )
    monkeypatch.setenv("KZMON_EXTRA_OUTLETS", str(extra))
    assert [o.id for o in load_outlets()][-1] == "trial"
    duplicate = tmp_path / "dup.yaml"
    duplicate.write_text(extra.read_text().replace("trial", "rferl"))
    monkeypatch.setenv("KZMON_EXTRA_OUTLETS", str(duplicate))
    with pytest.raises(ValueError, match="duplicate"):
        load_outlets()


# ---------------------------------------------------------------------- dates
def test_the_best_date_of_an_entry() -> None:
    url = "https://www.themoscowtimes.com/2016/06/06/x-a1"
    news, video, lastmod = "2025-05-25T10:08:58.43Z", "2025-05-23T22:20:33+05:00", "2025-06-01"
    assert best_date(url, news=news, video=video, lastmod=lastmod)[1] == "news"
    assert best_date(url, video=video, lastmod=lastmod) == ("2025-05-23T17:20:33.000000Z", "video")
    assert best_date(url, lastmod=lastmod) == ("2016-06-06T00:00:00.000000Z", "url")
    assert best_date("https://www.rferl.org/a/1.html", lastmod=lastmod)[1] == "lastmod"
    assert best_date("https://www.rferl.org/a/1.html", lastmod="2099-01-01") == (None, None)
    assert best_date("https://www.rferl.org/a/1.html", lastmod="1970-01-01") == (None, None)
    assert url_date("https://globalvoices.org/2011/12/18/x/") == datetime(2011, 12, 18, tzinfo=UTC)
    assert url_date("https://www.rferl.org/a/33423632.html") is None
    assert url_date("https://x.org/2011/13/45/x") is None


def test_dates_parse_and_sort_as_text() -> None:
    stamps = ["2025-04-20T14:36:31.6302626Z", "2008-07-01T10:03:02Z", "Mon, 06 Jun 2016 12:00 GMT"]
    parsed = [iso_utc(plausible(parse_date(s))) for s in stamps]
    assert parsed == [
        "2025-04-20T14:36:31.630262Z",
        "2008-07-01T10:03:02.000000Z",
        "2016-06-06T12:00:00.000000Z",
    ]
    assert sorted(parsed) == [parsed[1], parsed[2], parsed[0]]
    assert parse_date("not a date") is None and parse_date(None) is None


# ---------------------------------------------------------------------- the frontier
def _candidate(n: int, **fields: object) -> Candidate:
    url = f"https://www.rferl.org/a/{n}.html"
    return Candidate(url, url, "sitemap", "s", **fields)  # type: ignore[arg-type]


def test_the_frontier_keeps_the_best_date_and_rolls_back_refused_documents(tmp_path) -> None:
    frontier = Frontier(tmp_path / "f.sqlite")
    assert frontier.add(_candidate(1, date="2024-01-01T00:00:00.000000Z", date_source="lastmod"))
    assert not frontier.add(_candidate(1, date="2023-12-31T00:00:00.000000Z", date_source="news"))
    assert not frontier.add(_candidate(1, date="2025-01-01T00:00:00.000000Z", date_source="url"))
    [row] = frontier.pending(undated_first=False)
    assert (row.date, row.date_source) == ("2023-12-31T00:00:00.000000Z", "news")
    frontier.savepoint()
    for n in range(2, 1000):
        frontier.add(_candidate(n))
    frontier.rollback()
    assert frontier.count() == 1
    frontier.close()


def test_backfill_settling_mass_stamps_ranges_and_the_lastmod_bound(tmp_path) -> None:
    frontier = Frontier(tmp_path / "f.sqlite")
    stamp = "2012-02-02T16:23:37.700000Z"
    for n in range(12):  # a mass stamp inside the range
        frontier.add(_candidate(n, date=stamp, date_source="lastmod", lastmod=stamp))
    old = "2008-07-01T10:03:02.000000Z"
    for n in range(100, 112):  # a mass stamp before the range: published before it too
        frontier.add(_candidate(n, date=old, date_source="lastmod", lastmod=old))
    frontier.add(_candidate(200, date="2012-02-02T08:00:00.000000Z", date_source="news"))
    frontier.add(_candidate(201, date="2012-03-01T08:00:00.000000Z", date_source="video"))
    frontier.add(_candidate(202))  # undated
    stamps = frontier.finalize_backfill(date(2012, 2, 1), date(2012, 2, 29))
    assert stamps == {stamp: 12, old: 12}
    pending = list(frontier.pending(undated_first=False))
    assert pending[0].canonical.endswith("/200.html")  # dated first, newest first
    assert {r.date_source for r in pending[1:]} == {"mass_stamp", None} and len(pending) == 14
    counts = frontier.outcome_counts()
    assert counts == {"None": 14, "out_of_range": 13}
    frontier.settle_rest("capped", "test")
    assert sum(frontier.outcome_counts().values()) == frontier.count() == 27
    frontier.close()


# ---------------------------------------------------------------------- the crawl state
def test_pages_are_known_only_once_their_run_committed(tmp_path) -> None:
    state = CrawlState(tmp_path / "s.sqlite")
    state.begin_run("r1", "incremental")
    state.record_page("https://x.org/a/1.html", "https://x.org/a/1.html", "h", "t", "r1")
    state.record_validators("https://x.org/feed", '"e"', None, "t", "r1")
    assert state.page("https://x.org/a/1.html") is None
    assert state.validators("https://x.org/feed") == (None, None)
    state.end_run("r1", "interrupted")  # killed: its pages are stranded for the next run
    state.begin_run("r2", "incremental")
    [stranded] = state.stranded("r2")
    assert stranded.canonical_url == "https://x.org/a/1.html" and stranded.run_id == "r1"
    state.adopt([stranded.canonical_url], "r2")
    state.record_page("https://x.org/a/2.html", "https://x.org/a/2.html", "h", "t", "r2")
    state.record_validators("https://x.org/feed", '"f"', None, "t", "r2")
    state.forget_sources("r2", ["https://x.org/feed"])  # r2 left URLs of it for later
    state.commit_run("r2")
    assert state.page("https://x.org/a/2.html") and state.page_count() == 1
    assert state.stranded("r3") == [] and state.validators("https://x.org/feed") == (None, None)
    state.close()


def test_a_live_run_is_not_robbed_of_its_pages(tmp_path) -> None:
    state = CrawlState(tmp_path / "s.sqlite")
    state.begin_run("backfill-running", "backfill")  # this process: alive
    state.record_page(
        "https://x.org/a/1.html", "https://x.org/a/1.html", "h", "t", "backfill-running"
    )
    assert state.stranded("incremental-1") == []
    state.close()


# ---------------------------------------------------------------------- URLs
def test_the_fast_canonical_path_agrees_with_w3lib_on_every_real_url(full: Path) -> None:
    import spiders.canonical as canonical

    def slow(url: str) -> str:
        saved = canonical._SIMPLE
        canonical._SIMPLE = re.compile(r"(?!)")
        try:
            return canonicalize(url)
        finally:
            canonical._SIMPLE = saved

    urls = []
    for path in _real_files(full):
        body = path.read_bytes()
        xml = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        urls += [m.decode() for m in re.findall(rb"<loc>([^<]+)</loc>", xml)][::7]
    urls += ["https://x.org", "https://x.org/a/b/", "https://x.org/a/./b", "https://X.org/a"]
    assert len(urls) > 70000
    assert [u for u in urls if canonicalize(u) != slow(u)] == []


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "[::1]",
        "::ffff:127.0.0.1",
        "10.0.0.7",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "localhost",
        "api.localhost",
        "fe80::1",
        "",
    ],
)
def test_private_addresses_in_every_spelling(host: str) -> None:
    assert is_private_host(host)


def test_public_hosts_are_not_private() -> None:
    assert not any(map(is_private_host, ["www.rferl.org", "8.8.8.8", "2001:4860:4860::8888"]))


def test_redirect_refusals_have_named_kinds() -> None:
    outlet = get_outlet("rferl")

    def refusal(target: str, chain: list[str]) -> str | None:
        found = redirect_refusal(
            target, chain, owns_url=outlet.owns_url, max_length=2083, canonical=canonicalize
        )
        return found[0] if found else None

    a, b = "https://www.rferl.org/a/1.html", "https://www.rferl.org/a/2.html"
    assert refusal(b, [a]) is None
    assert refusal(a, [a, b]) == "redirect_loop"
    assert refusal(a + "?utm_source=x", [a]) == "redirect_loop"
    assert refusal("https://evil.example/", [a]) == "offsite_redirect"
    assert refusal("http://127.0.0.1:9/", [a]) == "private_redirect"
    assert refusal("file:///etc/passwd", [a]) == "bad_redirect"
    assert refusal("https://www.rferl.org/a/" + "x" * 3000, [a]) == "url_too_long"


def test_limits_come_from_the_environment_with_safe_fallbacks(monkeypatch) -> None:
    monkeypatch.setenv("KZMON_CRAWL_MAX_PAGES", "250")
    monkeypatch.setenv("KZMON_SITEMAP_MAX_BYTES", "not-a-number")
    monkeypatch.setenv("KZMON_BACKFILL_MAX_SECONDS", "-5")
    limits = crawl_limits("incremental")
    assert limits.max_pages == 250 and limits.sitemap_max_bytes == 50 * MIB
    assert crawl_limits("backfill").max_seconds == 10200
    assert crawl_limits("backfill").max_pages == 10000
    assert os.environ["KZMON_CRAWL_MAX_PAGES"] == "250"
