"""``python -m enrich extract``: JSON lines of pages in, one JSON record per line out.

Each input line is ``{"url", "html"}`` with optional ``outlet``, ``fetched_at``,
``feed_title``, ``feed_published`` (crawl-batch lines work too). Each output line is the
article record of ``extract_page``, or ``{"url": ..., "error": "<reason>"}``; output lines
correspond one to one, in order, to input lines. The exit status is 0 unless stdin itself
cannot be read.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from enrich.extract.core import extract_page
from enrich.extract.options import DEFAULT_RULES_PATH, ExtractOptions, max_page_bytes_from_env

LOGGER = logging.getLogger(__name__)

# A JSON line may carry this much more than the page itself (url, dates, escaping of the html)
# before it counts as too large; escaping rarely adds more than a few percent.
_LINE_OVERHEAD_FACTOR = 1.5
_LINE_OVERHEAD_BYTES = 64 * 1024
# Where a URL is looked for in a line that cannot be parsed (it comes first in our writers).
_URL_SNIFF_BYTES = 64 * 1024
_URL_RE = re.compile(rb'"url"\s*:\s*"((?:[^"\\]|\\.){1,4096})"')


def _salvage_url(line: bytes) -> str | None:
    """The ``url`` of a line we cannot decode or parse, when it can be read at all."""
    match = _URL_RE.search(line[:_URL_SNIFF_BYTES])
    if not match:
        return None
    try:
        return json.loads(b'"' + match.group(1) + b'"')
    except ValueError:
        return match.group(1).decode("utf-8", "replace")


def process_line(line: bytes, options: ExtractOptions) -> dict[str, Any]:
    """One input line (bytes, newline stripped) → one output record; never raises."""
    if not line.strip():
        return {"url": None, "error": "empty input line"}
    max_line = options.max_page_bytes * _LINE_OVERHEAD_FACTOR + _LINE_OVERHEAD_BYTES
    if len(line) > max_line:
        reason = f"page too large: input line of {len(line)} bytes > {options.max_page_bytes}"
        return {"url": _salvage_url(line), "error": reason}
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return {"url": _salvage_url(line), "error": f"undecodable bytes in input line: {err}"}
    try:
        page = json.loads(text)
    except ValueError as err:
        return {"url": _salvage_url(line), "error": f"not JSON: {err}"}
    if not isinstance(page, dict):
        return {"url": None, "error": f"not a JSON object: {type(page).__name__}"}
    return _extract_guarded(page, options)


def _extract_guarded(page: dict[str, Any], options: ExtractOptions) -> dict[str, Any]:
    """``extract_page``, with a last guard so that one page's bug does not stop the run."""
    try:
        return extract_page(page, options)
    except Exception as err:  # logged with its traceback and recorded; the run goes on
        LOGGER.exception("unexpected failure on %s", page.get("url"))
        return {"url": page.get("url"), "error": f"internal error: {type(err).__name__}: {err}"}


def _dump(record: dict[str, Any]) -> bytes:
    try:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates in a salvaged URL: escape them
        return (json.dumps(record, ensure_ascii=True) + "\n").encode("ascii")


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    for line in stream:
        yield line.rstrip(b"\r\n")


def run(lines: Iterable[bytes], out: BinaryIO, options: ExtractOptions) -> dict[str, int]:
    """Process every line, write one record each; returns counts (``ok``, ``error``)."""
    counts = {"ok": 0, "error": 0}
    for line in lines:
        record = process_line(line, options)
        counts["error" if "error" in record else "ok"] += 1
        out.write(_dump(record))
        out.flush()
    return counts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m enrich extract",
        description="JSON lines {url, html, ...} on stdin → one article record per line.",
    )
    parser.add_argument(
        "--max-page-bytes",
        type=int,
        default=None,
        help="refuse larger pages (default: KZMON_MAX_PAGE_BYTES or 10 MiB)",
    )
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_PATH, help="rules file")
    parser.add_argument("--log-level", default="WARNING", help="stderr log level")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m enrich extract``; 0 unless stdin cannot be read."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    options = ExtractOptions(
        max_page_bytes=args.max_page_bytes or max_page_bytes_from_env(), rules_path=args.rules
    )
    try:
        counts = run(_lines(sys.stdin.buffer), sys.stdout.buffer, options)
    except OSError as err:
        LOGGER.error("cannot read stdin: %s", err)
        return 1
    LOGGER.info("extracted %d pages, %d errors", counts["ok"], counts["error"])
    return 0
