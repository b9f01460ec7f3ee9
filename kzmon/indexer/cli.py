"""``python -m kzmon.indexer setup | index FILE | retag | search QUERY | dead-letters``.

``index`` exits 0 when every record of FILE was indexed, 1 when some of them failed (they are
dead-lettered, or unreadable), 2 when Elasticsearch stayed unreachable. Dead letters re-sent
from earlier runs that fail again, and documents parked after repeated rejections, are
reported in the output (``retry_failed``, ``parked``, ``parked_entries``, ``parked_total``)
but do not change the exit status: it reflects this run's new failures only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from dateutil import parser as date_parser

LOGGER = logging.getLogger(__name__)

_EM = re.compile(r"</?em>")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status is 0 on success."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return args.func(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kzmon.indexer")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup", help="apply templates, create the first index and aliases")
    setup.set_defaults(func=_setup)
    index = sub.add_parser("index", help="index a JSON-lines file of article records")
    index.add_argument("file", type=Path)
    index.add_argument("--run-id", default=None)
    index.set_defaults(func=_index)
    letters = sub.add_parser("dead-letters", help="list dead-lettered and parked documents")
    letters.add_argument("--requeue", action="store_true", help="re-send parked documents")
    letters.add_argument("--doc-id", action="append", default=None, help="only these documents")
    letters.set_defaults(func=_dead_letters)
    retag = sub.add_parser("retag", help="re-tag the archive into a new index version")
    retag.add_argument("--keep-old", action="store_true", help="keep the previous index")
    retag.add_argument("--if-needed", action="store_true", help="only if the taxonomy changed")
    retag.set_defaults(func=_retag)
    _search_parser(sub.add_parser("search", help="full-text search with filters"))
    return parser


def _search_parser(search: argparse.ArgumentParser) -> None:
    search.add_argument("query", nargs="?", default="", help='words, "phrases", -exclusions')
    search.add_argument("--entity", action="append", default=[], help="entity id or name")
    search.add_argument("--incident", action="append", default=[], help="incident type id")
    search.add_argument("--outlet", action="append", default=[], help="outlet id")
    search.add_argument("--language", action="append", default=[], help="ISO 639-1 code")
    search.add_argument("--since", type=_date, help="published on or after (date or now-7d)")
    search.add_argument("--until", type=_date, help="published on or before")
    search.add_argument("--relevant", action="store_true", help="Kazakhstan-security only")
    search.add_argument("--size", type=int, default=10)
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(func=_search)


def _date(value: str) -> str:
    """A date for a range filter: ISO 8601, anything dateutil reads, or ES date math."""
    if value.startswith("now") or _DATE_ONLY.fullmatch(value):
        return value
    try:
        return date_parser.parse(value).isoformat()
    except (ValueError, OverflowError) as exc:
        raise argparse.ArgumentTypeError(f"not a date: {value!r}") from exc


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _setup(args: argparse.Namespace) -> int:
    from kzmon.indexer.setup import ensure_setup

    _print_json(dataclasses.asdict(ensure_setup()))
    return 0


def _index(args: argparse.Namespace) -> int:
    from kzmon.indexer.bulk import IndexingError, index_batch_file

    try:
        result = index_batch_file(args.file, run_id=args.run_id, refresh=True)
    except IndexingError as exc:
        LOGGER.error("%s", exc)
        _print_json(_summary(exc.result))
        return 2
    _print_json(_summary(result))
    return 1 if result.failed else 0


def _summary(result: Any) -> dict[str, Any]:
    summary = dataclasses.asdict(result)
    summary["doc_ids"] = len(summary["doc_ids"])
    return summary


def _dead_letters(args: argparse.Namespace) -> int:
    """List the dead-letter box and the parked documents; ``--requeue`` un-parks them."""
    from kzmon.indexer.deadletter import DeadLetterBox
    from kzmon.settings import get_settings

    box = DeadLetterBox(get_settings().data_dir / "dead-letter")
    wanted = set(args.doc_id) if args.doc_id else None
    requeued = box.requeue(wanted) if args.requeue else 0
    fields = ("doc_id", "url", "error", "reason", "attempts", "rejections", "last_failed_at")
    _print_json(
        {
            "pending": [{k: e.get(k) for k in fields} for e in box.entries()],
            "parked": [{k: e.get(k) for k in (*fields, "parked_at")} for e in box.parked()],
            "parked_path": str(box.parked_path),
            "requeued": requeued,
        }
    )
    return 0


def _retag(args: argparse.Namespace) -> int:
    from kzmon.indexer.retag import RetagError, default_tagger, needs_retag, retag

    tagger = default_tagger()
    if args.if_needed and not needs_retag(tagger=tagger):
        print(f"taxonomy {tagger.version}: nothing to re-tag")
        return 0
    try:
        report = retag(tagger=tagger, keep_old=args.keep_old)
    except RetagError as exc:
        LOGGER.error("%s", exc)
        _print_json(dataclasses.asdict(exc.report))
        return 1
    _print_json(dataclasses.asdict(report))
    return 0


def _search(args: argparse.Namespace) -> int:
    from kzmon.indexer.search import SearchFilters, search_articles

    filters = SearchFilters(
        entities=args.entity,
        incidents=args.incident,
        outlets=args.outlet,
        languages=args.language,
        since=args.since,
        until=args.until,
        relevant_only=args.relevant,
    )
    result = search_articles(args.query, filters, size=args.size)
    if args.json:
        _print_json({"total": result.total, "hits": [dataclasses.asdict(h) for h in result.hits]})
        return 0
    tty = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    bold = ("\033[1m", "\033[0m") if tty else ("**", "**")
    print(f"{result.total} articles")
    for hit in result.hits:
        _print_hit(hit, bold)
    return 0


def _print_hit(hit: Any, bold: tuple[str, str]) -> None:
    src = hit.source

    def mark(text: str) -> str:
        return _EM.sub(lambda m: bold[1] if m.group().startswith("</") else bold[0], text)

    flag = "R" if src.get("relevant") else " "
    date = (src.get("published_at") or "")[:10]
    title = mark(src.get("title_highlighted") or src.get("title") or "(no title)")
    print(f"\n{flag} {date} [{src.get('outlet', '?')}] {title}")
    print(f"  {src.get('canonical_url') or src.get('url', '')}")
    tags = [*src.get("incident_types", []), *src.get("places", []), *src.get("groups", [])]
    if tags:
        print(f"  tags: {', '.join(tags)}")
    for snippet in hit.snippets:
        print(f"  … {mark(' '.join(snippet.split()))} …")
