"""``make bench-crawl``: crawl throughput against the offline replay, ours versus bare Scrapy.

For each repeat: start a fresh replay (slow page off; by default the generated replay of
``--articles 2000`` articles, `spiders.replay.generated`, so a run makes over 2,000 requests),
crawl every outlet with our spiders (one subprocess per outlet, as in production, politeness
delays off for the benchmark only), then fetch exactly the URLs each of those crawls requested
with a bare Scrapy spider (one subprocess per outlet too; no robots.txt, no state, no WARC,
same one-request-at-a-time concurrency). Both sides are timed the same way: pages/s is
responses / the sum over the processes of the seconds from the first to the last request the
replay answered (process start-up excluded; wall time including it is shown apart). Prints
medians over the repeats, the ratio, and peak memory (max RSS of the crawl processes).

    python -m benchmarks.crawl [--repeats 3] [--articles 2000]

``--real`` measures discovery on the real RFE/RL and Azattyq sitemaps instead (issue 18):
a replay serves ``../shared/outlets/feeds/rferl-full`` like a static server (synthetic article
pages) and, per outlet, the benchmark runs a first incremental crawl (articles scheduled,
sitemaps read, peak RSS), a backfill of the whole archive capped at ``--cap`` pages (which of
the ``_news``/``_latest`` articles it fetched: the trial before this change fetched 0 of 11
and 2 of 216 in a run cut at 2,700 pages), and the backfill's discovery alone (one page, so
its peak RSS is what holding the whole archive costs). The baseline beside our RSS is a bare
Scrapy process that downloads the same sitemaps and keeps nothing.

    python -m benchmarks.crawl --real [--cap 2700] [--outlets azattyq_kk]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import scrapy

from spiders.batch import peak_rss_kib
from spiders.registry import load_outlets
from spiders.replay.server import read_requests, start_replay, stop_replay
from spiders.run import crawl
from spiders.transport import replay_url_for

LOGGER = logging.getLogger(__name__)

#: Delays off for the benchmark only; everything else is the production configuration.
NO_DELAYS = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING"}


class BareSpider(scrapy.Spider):
    """Scrapy with nothing of ours: fetch the URLs, keep nothing."""

    name = "bare"

    def __init__(self, urls: list[str], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.urls = urls

    async def start(self):
        """Every URL once."""
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    def parse(self, response: scrapy.http.Response) -> None:
        """Discard the page."""
        return None


def _bare_main(urls_file: Path) -> int:
    """Child process: run the bare spider, print {elapsed_s, responses, peak_rss_kib}."""
    from scrapy.crawler import CrawlerProcess

    urls = json.loads(urls_file.read_text())
    process = CrawlerProcess(
        {
            "LOG_LEVEL": "WARNING",
            "ROBOTSTXT_OBEY": False,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            "DOWNLOAD_DELAY": 0,
            "HTTPERROR_ALLOW_ALL": True,
            "REDIRECT_ENABLED": False,
            "RETRY_ENABLED": False,
            "DOWNLOAD_MAXSIZE": 5 * 1024 * 1024,
            "REMOTE_CONTROL_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    crawler = process.create_crawler(BareSpider)
    started = time.monotonic()
    process.crawl(crawler, urls=urls)
    process.start()
    print(
        json.dumps(
            {
                "elapsed_s": time.monotonic() - started,
                "responses": crawler.stats.get_value("downloader/response_count", 0),
                "peak_rss_kib": peak_rss_kib(),
            }
        )
    )
    return 0


def _span(requests: list[dict]) -> float:
    """Seconds from the first to the last request the replay answered (start-up excluded)."""
    return requests[-1]["t"] - requests[0]["t"] if len(requests) > 1 else 0.0


def _ours(data_dir: Path, replay_dir: Path) -> tuple[dict[str, float], list[list[dict]]]:
    """Crawl every outlet; return the totals and each outlet's served requests."""
    elapsed, responses, rss, wall = 0.0, 0, 0, 0.0
    groups = []
    for outlet in load_outlets():
        before = len(read_requests(replay_dir))
        t0 = time.monotonic()
        result = crawl(outlet.id, run_id="bench", data_dir=data_dir, overrides=NO_DELAYS)
        wall += time.monotonic() - t0
        served = read_requests(replay_dir)[before:]
        groups.append(served)
        elapsed += _span(served)
        responses += len(served)
        rss = max(rss, result.summary["perf"]["peak_rss_kib"])
    totals = {"elapsed_s": elapsed, "responses": responses, "peak_rss_kib": rss, "wall_s": wall}
    return totals, groups


def _bare_groups(groups: list[list[str]], work: Path, replay_dir: Path) -> dict[str, float]:
    """The bare spider once per outlet's URL list, timed exactly like our per-outlet crawls.

    Both sides are then measured the same way (the sum of per-process spans from the first to
    the last answered request), so neither gains from where process boundaries fall.
    """
    rows = [_bare(urls, work, replay_dir) for urls in groups if urls]
    return {
        "elapsed_s": sum(r["elapsed_s"] for r in rows),
        "responses": sum(r["responses"] for r in rows),
        "peak_rss_kib": max(r["peak_rss_kib"] for r in rows),
        "wall_s": sum(r["wall_s"] for r in rows),
    }


def _bare(urls: list[str], work: Path, replay_dir: Path) -> dict[str, float]:
    before = len(read_requests(replay_dir))
    urls_file = work / "urls.json"
    urls_file.write_text(json.dumps(urls))
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.crawl", "--bare", str(urls_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    served = read_requests(replay_dir)[before:]
    return {
        "elapsed_s": _span(served),
        "responses": len(served),
        "peak_rss_kib": result["peak_rss_kib"],
        "wall_s": time.monotonic() - t0,
    }


def run_once(work: Path, articles: int = 0) -> tuple[dict, dict]:
    """One repeat: a fresh replay (generated with ``articles`` pages, 0: the default replay),
    our crawl of every outlet, then the bare spider."""
    replay_dir = work / "replay"
    generated = os.environ.get("KZMON_REPLAY_ARTICLES")
    os.environ["KZMON_REPLAY_ARTICLES"] = str(articles) if articles else ""
    try:
        info = start_replay(replay_dir, no_delay=True)
    finally:
        os.environ["KZMON_REPLAY_ARTICLES"] = generated or ""
    previous = os.environ.get("KZMON_REPLAY_URL")
    os.environ["KZMON_REPLAY_URL"] = info.url
    try:
        ours, groups = _ours(work / "data", replay_dir)
        url_groups = [[replay_url_for(r["url"], info.url) for r in g] for g in groups]
        bare = _bare_groups(url_groups, work, replay_dir)
    finally:
        stop_replay(replay_dir)
        if previous is None:
            os.environ.pop("KZMON_REPLAY_URL", None)
        else:
            os.environ["KZMON_REPLAY_URL"] = previous
    return ours, bare


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(row[key] for row in rows)


REAL_OUTLETS = ("rferl", "azattyq_kk", "azattyq_ru")


def _recent_urls(full: Path, host: str) -> dict[str, set[str]]:
    """Canonical URLs of the host's _news and _latest sitemaps."""
    import gzip
    import re

    from spiders.canonical import canonicalize

    out = {}
    for kind in ("news", "latest"):
        [path] = (full / host).glob(f"sitemap_*_{kind}.xml.gz")
        locs = re.findall(rb"<loc>([^<]+)</loc>", gzip.decompress(path.read_bytes()))
        out[kind] = {canonicalize(loc.decode()) for loc in locs}
    return out


def _sitemap_urls(replay_dir: Path, before: int, host: str) -> list[str]:
    return [
        r["url"]
        for r in read_requests(replay_dir)[before:]
        if host in r["url"] and ".xml" in r["url"]
    ]


def _real_outlet(outlet_id: str, work: Path, replay, full: Path, cap: int) -> dict:
    """The three crawls of one outlet (see the module docstring) and the bare baseline."""
    from spiders.registry import get_outlet

    host = get_outlet(outlet_id).host
    replay_dir = work / "replay"
    before = len(read_requests(replay_dir))
    first = crawl(outlet_id, run_id="first", data_dir=work / outlet_id / "inc", overrides=NO_DELAYS)
    sitemaps = _sitemap_urls(replay_dir, before, host)
    pages = {
        json.loads(line)["canonical_url"] for line in first.pages_path.read_text().splitlines()
    }
    capped = crawl(
        outlet_id,
        run_id="capped",
        mode="backfill",
        since=None,
        until=None,
        data_dir=work / outlet_id / "capped",
        overrides={**NO_DELAYS, "KZMON_MAX_PAGES": cap},
    )
    fetched = {
        json.loads(line)["canonical_url"] for line in capped.pages_path.read_text().splitlines()
    }
    discovery = crawl(
        outlet_id,
        run_id="archive",
        mode="backfill",
        data_dir=work / outlet_id / "archive",
        overrides={**NO_DELAYS, "KZMON_MAX_PAGES": 1},
    )
    before = len(read_requests(replay_dir))
    bare = _bare([replay_url_for(u, replay.url) for u in sitemaps], work, replay_dir)
    recent = _recent_urls(full, host)
    counts = first.summary["counts"]
    return {
        "outlet": outlet_id,
        "first_run_articles_scheduled": counts["requested"],
        "first_run_discovered": counts["discovered"],
        "first_run_sitemaps_read": len(sitemaps),
        "first_run_news_fetched": f"{len(recent['news'] & pages)}/{len(recent['news'])}",
        "first_run_latest_fetched": f"{len(recent['latest'] & pages)}/{len(recent['latest'])}",
        "first_run_peak_rss_mib": round(first.summary["perf"]["peak_rss_kib"] / 1024, 1),
        "bare_sitemaps_peak_rss_mib": round(bare["peak_rss_kib"] / 1024, 1),
        "capped_backfill_pages": len(fetched),
        "capped_backfill_peak_rss_mib": round(capped.summary["perf"]["peak_rss_kib"] / 1024, 1),
        "capped_news_fetched": f"{len(recent['news'] & fetched)}/{len(recent['news'])}",
        "capped_latest_fetched": f"{len(recent['latest'] & fetched)}/{len(recent['latest'])}",
        "archive_urls_discovered": discovery.summary["counts"]["discovered"],
        "archive_discovery_peak_rss_mib": round(
            discovery.summary["perf"]["peak_rss_kib"] / 1024, 1
        ),
        "archive_discovery_s": discovery.summary["perf"]["elapsed_s"],
    }


def real_main(cap: int, outlet_ids: list[str]) -> int:
    """``--real``: the figures of issue 18 on the real sitemaps; prints a table and JSON."""
    from spiders.replay.site import default_shared_dir

    full = default_shared_dir() / "outlets" / "feeds" / "rferl-full"
    rows = []
    with tempfile.TemporaryDirectory(prefix="kzmon-bench-real-") as tmp:
        work = Path(tmp)
        replay = start_replay(work / "replay", static_dirs=[full], no_delay=True)
        previous = os.environ.get("KZMON_REPLAY_URL")
        os.environ["KZMON_REPLAY_URL"] = replay.url
        try:
            rows = [_real_outlet(oid, work, replay, full, cap) for oid in outlet_ids]
        finally:
            stop_replay(work / "replay")
            if previous is None:
                os.environ.pop("KZMON_REPLAY_URL", None)
            else:
                os.environ["KZMON_REPLAY_URL"] = previous
    print(f"discovery on the real sitemaps (../shared/outlets/feeds/rferl-full), cap {cap}")
    for row in rows:
        print(f"  {row['outlet']}:")
        for key, value in row.items():
            if key != "outlet":
                print(f"    {key:34} {value}")
    print(json.dumps(rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its report (and one JSON line)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.crawl")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--articles",
        type=int,
        default=2000,
        help="articles of the generated replay (KZMON_REPLAY_ARTICLES; 0: the default replay)",
    )
    parser.add_argument("--real", action="store_true", help="the real RFE/RL sitemaps")
    parser.add_argument("--cap", type=int, default=2700, help="pages of the capped run (--real)")
    parser.add_argument("--outlets", nargs="*", default=list(REAL_OUTLETS))
    parser.add_argument("--bare", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        return _bare_main(args.bare)
    if args.real:
        logging.basicConfig(level=logging.WARNING)
        return real_main(args.cap, args.outlets)
    logging.basicConfig(level=logging.WARNING)
    ours_runs, bare_runs = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="kzmon-bench-crawl-") as tmp:
            ours, bare = run_once(Path(tmp), args.articles)
        for row in (ours, bare):
            row["pages_per_s"] = row["responses"] / row["elapsed_s"]
        ours_runs.append(ours)
        bare_runs.append(bare)
    report = {
        "repeats": args.repeats,
        "articles": args.articles,
        "responses": int(_median(ours_runs, "responses")),
        "ours_pages_per_s": round(_median(ours_runs, "pages_per_s"), 1),
        "bare_pages_per_s": round(_median(bare_runs, "pages_per_s"), 1),
        "ours_wall_s_incl_startup": round(_median(ours_runs, "wall_s"), 1),
        "bare_wall_s_incl_startup": round(_median(bare_runs, "wall_s"), 1),
        "ours_peak_rss_mib": round(_median(ours_runs, "peak_rss_kib") / 1024, 1),
        "bare_peak_rss_mib": round(_median(bare_runs, "peak_rss_kib") / 1024, 1),
    }
    report["ratio_ours_to_bare"] = round(report["ours_pages_per_s"] / report["bare_pages_per_s"], 2)
    replay = f"generated replay of {args.articles} articles" if args.articles else "replay"
    print(f"crawl benchmark against the {replay}, median of {args.repeats} repeats")
    print(f"  responses per repeat:  {report['responses']}")
    print(f"  our spiders:  {report['ours_pages_per_s']:8.1f} pages/s")
    print(f"  bare Scrapy:  {report['bare_pages_per_s']:8.1f} pages/s")
    print(f"  ratio (ours / bare):   {report['ratio_ours_to_bare']}")
    print(
        f"  peak memory: ours {report['ours_peak_rss_mib']} MiB,"
        f" bare {report['bare_peak_rss_mib']} MiB (max RSS of the crawl processes)"
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
