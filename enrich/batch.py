"""Run the enrich stage over one crawl batch: extract each page, tag it, write articles.

Input is a crawl run's ``pages.jsonl`` (docs/records.md §1); output, beside it, is
``articles.jsonl`` (one tagged article record per good page, §2) and
``enrich_errors.jsonl`` (one line per page that could not be turned into an article).
Files are written to a temporary name and renamed, so a retried task never leaves half a batch.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kzmon.jsonl import iter_jsonl

LOGGER = logging.getLogger(__name__)


@dataclass
class EnrichResult:
    """Where the batch's articles and errors are, and how many of each."""

    articles_path: str
    errors_path: str
    pages: int = 0
    extracted: int = 0
    extraction_failed: int = 0
    empty_text: int = 0
    tagging_failed: int = 0
    relevant: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for XCom and run metrics)."""
        return asdict(self)


def _enrich_one(page: dict[str, Any], tagger: Any, result: EnrichResult) -> dict[str, Any]:
    """The article record for one page, or an error record (never raises for bad input)."""
    from enrich.extract import extract_page

    record = extract_page(page)
    if record.get("error"):
        result.extraction_failed += 1
        return {"url": page.get("url"), "stage": "extract", "error": record["error"]}
    if not (record.get("text") or "").strip():
        result.empty_text += 1
        return {"url": page.get("url"), "stage": "extract", "error": "empty text"}
    try:
        record.update(tagger.tag(record))
    except (ValueError, TypeError, KeyError) as exc:
        LOGGER.warning("tagging failed for %s: %s", page.get("url"), exc)
        result.tagging_failed += 1
        return {"url": page.get("url"), "stage": "tag", "error": f"tagging failed: {exc}"}
    result.extracted += 1
    if record.get("kz_security", {}).get("relevant"):
        result.relevant += 1
    return record


def _enrich_guarded(page: dict[str, Any], tagger: Any, result: EnrichResult) -> dict[str, Any]:
    """``_enrich_one`` with a last guard: a bug on one page is recorded, the batch goes on."""
    try:
        return _enrich_one(page, tagger, result)
    except Exception as exc:
        LOGGER.exception("unexpected failure enriching %s", page.get("url"))
        result.extraction_failed += 1
        return {"url": page.get("url"), "stage": "enrich", "error": f"internal error: {exc!r}"}


def _not_a_page(value: Any) -> str | None:
    """Why a parsed line is not a page record (None when it is a JSON object)."""
    if isinstance(value, dict):
        return None
    return f"expected a JSON object, got {type(value).__name__}"


def enrich_batch(pages_path: Path, out_dir: Path | None = None) -> EnrichResult:
    """Extract and tag every page of a crawl batch; return counts and output paths."""
    from enrich.tagging import get_tagger

    pages_path = Path(pages_path)
    out_dir = Path(out_dir or pages_path.parent)
    out_dir.mkdir(parents=True, exist_ok=True)
    articles_path = out_dir / "articles.jsonl"
    errors_path = out_dir / "enrich_errors.jsonl"
    result = EnrichResult(str(articles_path), str(errors_path))
    tagger = get_tagger()
    tmp_articles = articles_path.with_suffix(".jsonl.tmp")
    tmp_errors = errors_path.with_suffix(".jsonl.tmp")
    with (
        open(tmp_articles, "w", encoding="utf-8") as good,
        open(tmp_errors, "w", encoding="utf-8") as bad,
    ):
        for line in iter_jsonl(pages_path):
            result.pages += 1
            reason = line.error or _not_a_page(line.value)
            if reason is not None:
                result.extraction_failed += 1
                LOGGER.warning("%s:%d unreadable (%s); recorded", pages_path, line.number, reason)
                error = f"unreadable line {line.number}: {reason}"
                out = {"url": None, "stage": "read", "error": error, "line": line.number}
            else:
                out = _enrich_guarded(line.value, tagger, result)
            target = bad if "error" in out else good
            target.write(json.dumps(out, ensure_ascii=False) + "\n")
    os.replace(tmp_articles, articles_path)
    os.replace(tmp_errors, errors_path)
    LOGGER.info(
        "enriched %s: %d pages, %d articles, %d failed, %d empty, %d relevant",
        pages_path,
        result.pages,
        result.extracted,
        result.extraction_failed + result.tagging_failed,
        result.empty_text,
        result.relevant,
    )
    return result
