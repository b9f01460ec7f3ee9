"""Command line of the crawl stage (one Scrapy process per crawl).

Usage::

    python -m spiders crawl moscowtimes --run-id manual-1 [--mode backfill --since 2011-01-01
        --until 2016-12-31] [--data-dir DIR] [--set DOWNLOAD_DELAY=0]
    python -m spiders list
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from kzmon.settings import get_settings
from spiders.registry import load_outlets

LOGGER = logging.getLogger(__name__)


def _overrides(pairs: list[str]) -> dict:
    """``KEY=JSON`` pairs (plain strings where the value is not JSON)."""
    out = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def run_crawl(args: argparse.Namespace) -> int:
    """Run one crawl in this process (Twisted's reactor: once per process)."""
    from scrapy.crawler import CrawlerProcess

    from spiders.batch import run_dir_for
    from spiders.crawl_settings import scrapy_settings
    from spiders.registry import get_outlet
    from spiders.spider import OutletSpider
    from spiders.state import state_path

    outlet = get_outlet(args.outlet)
    data_dir = args.data_dir or get_settings().data_dir
    process = CrawlerProcess(scrapy_settings(outlet, _overrides(args.set)))
    process.crawl(
        OutletSpider,
        outlet_id=outlet.id,
        run_dir=str(run_dir_for(data_dir, outlet.id, args.run_id)),
        state_path=str(state_path(data_dir, outlet.id)),
        run_id=args.run_id,
        mode=args.mode,
        since=args.since,
        until=args.until,
    )
    process.start()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``crawl`` | ``list``."""
    parser = argparse.ArgumentParser(prog="python -m spiders")
    sub = parser.add_subparsers(dest="command", required=True)
    crawl = sub.add_parser("crawl", help="crawl one outlet")
    crawl.add_argument("outlet")
    crawl.add_argument("--run-id", required=True)
    crawl.add_argument("--mode", choices=["incremental", "backfill"], default="incremental")
    crawl.add_argument("--since", default=None, help="YYYY-MM-DD (backfill)")
    crawl.add_argument("--until", default=None, help="YYYY-MM-DD (backfill)")
    crawl.add_argument("--data-dir", type=Path, default=None)
    crawl.add_argument("--set", action="append", default=[], help="Scrapy setting KEY=JSON")
    sub.add_parser("list", help="list the registry's outlets")
    args = parser.parse_args(argv)
    if args.command == "list":
        for outlet in load_outlets():
            print(f"{outlet.id}\t{outlet.schedule}\t{outlet.base_url}")
        return 0
    return run_crawl(args)


if __name__ == "__main__":
    sys.exit(main())
