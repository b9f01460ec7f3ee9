"""Scoring extraction against ground truth: 4-token shingle precision, recall and F1.

Used by ``make bench-extract`` (``benchmarks/extract.py``) and the quality-gate test. The
benchmark data is scrapinghub's article-extraction-benchmark (``ground-truth.json`` keyed
by file hash → ``{url, articleBody}``, pages in ``html/<hash>.html.gz``).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import trafilatura
from trafilatura.utils import decode_file

from enrich.extract.core import extract_page
from enrich.extract.options import ExtractOptions

LOGGER = logging.getLogger(__name__)

SHINGLE_SIZE = 4
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class BenchPage:
    """One benchmark page: its URL, decoded HTML and ground-truth body."""

    key: str
    url: str
    html: str
    truth: str


@dataclass(frozen=True)
class Score:
    """Averaged precision/recall over pages and the F1 of the averages."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        """Harmonic mean of the averaged precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def load_pages(bench_dir: Path, limit: int | None = None) -> list[BenchPage]:
    """The benchmark pages (sorted by hash), decoded the way trafilatura decodes bytes."""
    truth = json.loads((bench_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for path in sorted((bench_dir / "html").glob("*.html.gz"))[:limit]:
        key = path.name.split(".", 1)[0]
        html = decode_file(gzip.decompress(path.read_bytes()))
        pages.append(BenchPage(key, truth[key]["url"], html, truth[key]["articleBody"]))
    return pages


def shingles(text: str, size: int = SHINGLE_SIZE) -> Counter:
    """Multiset of ``size``-token shingles of the lower-cased word tokens."""
    tokens = _TOKEN_RE.findall(text.lower())
    if len(tokens) < size:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def page_precision_recall(predicted: str, truth: str) -> tuple[float, float]:
    """Shingle precision and recall of one page (an empty prediction scores 0/0)."""
    pred, gold = shingles(predicted), shingles(truth)
    if not gold:
        return (1.0, 1.0) if not pred else (0.0, 1.0)
    if not pred:
        return 0.0, 0.0
    overlap = sum((pred & gold).values())
    return overlap / sum(pred.values()), overlap / sum(gold.values())


def score(predictions: list[str], pages: list[BenchPage]) -> Score:
    """Average precision and recall over pages."""
    pairs = [
        page_precision_recall(p, page.truth) for p, page in zip(predictions, pages, strict=True)
    ]
    return Score(
        precision=statistics.fmean(p for p, _ in pairs),
        recall=statistics.fmean(r for _, r in pairs),
    )


def plain_trafilatura(page: BenchPage) -> str:
    """Plain ``trafilatura.extract(html)`` with its defaults."""
    return trafilatura.extract(page.html) or ""


def ours(page: BenchPage, options: ExtractOptions | None = None) -> str:
    """Our extractor's ``text`` (empty on an error record)."""
    record = extract_page({"url": page.url, "html": page.html}, options)
    return record.get("text") or ""
