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
from datetime import UTC, datetime
from pathlib import Path

from kzmon.settings import get_settings
from spiders.batch import run_dir_for, validate_run_id, write_summary
from spiders.registry import get_outlet, load_outlets
from spiders.state import CorruptStateError, CrawlState, open_checked, state_path

LOGGER = logging.getLogger(__name__)

#: Finish reasons after which a run's batch is complete and its pages are committed (a run cut
#: at its time limit has handled, and recorded, every URL it took on).
COMMITTED_REASONS = ("finished", "closespider_timeout")


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
    """Run one crawl in this process (Twisted's reactor: once per process).

    Exit status: 0 when the crawl finished (or stopped at its time limit) and its pages were
    committed to the crawl state; 1 when it did not finish (nothing committed: a later run
    picks its pages up); 2 for a bad run id; 3 when the crawl state was corrupt (moved aside
    and rebuilt: run again).
    """
    from scrapy.crawler import CrawlerProcess

    from spiders.crawl_settings import scrapy_settings
    from spiders.spider import OutletSpider

    try:
        validate_run_id(args.run_id)
    except ValueError as exc:
        print(f"kzmon crawl: {exc}", file=sys.stderr)
        return 2
    outlet = get_outlet(args.outlet)
    data_dir = args.data_dir or get_settings().data_dir
    run_dir = run_dir_for(data_dir, outlet.id, args.run_id)
    path = state_path(data_dir, outlet.id)
    try:
        open_checked(path, data_dir, outlet.id).close()
    except CorruptStateError as exc:
        print(f"kzmon crawl: {exc}", file=sys.stderr)
        return 3
    summary_path = run_dir / "summary.json"
    summary_path.unlink(missing_ok=True)
    process = CrawlerProcess(scrapy_settings(outlet, _overrides(args.set), mode=args.mode))
    process.crawl(
        OutletSpider,
        outlet_id=outlet.id,
        run_dir=str(run_dir),
        state_path=str(path),
        run_id=args.run_id,
        mode=args.mode,
        since=args.since,
        until=args.until,
    )
    process.start()
    return _commit(summary_path, CrawlState(path), args.run_id)


def _commit(summary_path: Path, state: CrawlState, run_id: str) -> int:
    """Commit a finished run's pages to the crawl state (the batch is complete on disk)."""
    try:
        if not summary_path.exists():
            print("kzmon crawl: the crawl wrote no summary (see the log above)", file=sys.stderr)
            state.end_run(run_id, "failed")
            return 1
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        reason = summary.get("perf", {}).get("finish_reason")
        if reason not in COMMITTED_REASONS:
            print(
                f"kzmon crawl: the crawl stopped ({reason}); its pages are not committed and"
                " the next run fetches them again",
                file=sys.stderr,
            )
            state.end_run(run_id, "interrupted")
            return 1
        applied = state.commit_run(run_id)
        summary["committed"] = True
        summary["committed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        summary["committed_records"] = applied
        write_summary(summary_path, summary)
        return 0
    finally:
        state.close()


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
