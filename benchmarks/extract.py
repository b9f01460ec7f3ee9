"""``make bench-extract``: our extractor vs plain trafilatura on the extraction benchmark.

Data: ``../shared/benchmarks/article-extraction-benchmark`` (181 real news pages with
ground-truth bodies, scrapinghub's article-extraction-benchmark). Quality is F1 over 4-token
shingles: precision and recall per page, each averaged over pages, F1 of the two averages.
Speed is the median wall time of ``--repeats`` passes over all pages for each extractor, run
alternately in the same process on the same decoded pages.

    .venv/bin/python -m benchmarks.extract [--repeats 3] [--limit N] [--json]

Exit status 1 when our F1 is below plain trafilatura's or below the floor in
``tests/extract/quality_baseline.json``, or when the time ratio exceeds the target.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trafilatura
from trafilatura.utils import decode_file

from enrich.extract import ExtractOptions, extract_page

LOGGER = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARK_DIR = REPO_ROOT.parent / "shared" / "benchmarks" / "article-extraction-benchmark"
BASELINE_PATH = REPO_ROOT / "tests" / "extract" / "quality_baseline.json"
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


def load_pages(bench_dir: Path = BENCHMARK_DIR, limit: int | None = None) -> list[BenchPage]:
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


def timed_run(extractor: Callable[[BenchPage], str], pages: list[BenchPage]) -> tuple[list, float]:
    """Run an extractor over all pages: its outputs and the wall time."""
    start = time.perf_counter()
    outputs = [extractor(page) for page in pages]
    return outputs, time.perf_counter() - start


def run_benchmark(pages: list[BenchPage], repeats: int = 3) -> dict:
    """Both extractors, alternating, ``repeats`` times: scores and median times."""
    extractors = {"trafilatura": plain_trafilatura, "kzmon": ours}
    for extractor in extractors.values():  # warm-up: imports, models, rules, caches
        extractor(pages[0])
    times: dict[str, list[float]] = {name: [] for name in extractors}
    outputs: dict[str, list[str]] = {}
    for _ in range(repeats):
        for name, extractor in extractors.items():
            outputs[name], elapsed = timed_run(extractor, pages)
            times[name].append(elapsed)
    result = {"pages": len(pages), "repeats": repeats}
    for name in extractors:
        s = score(outputs[name], pages)
        result[name] = {
            "precision": s.precision,
            "recall": s.recall,
            "f1": s.f1,
            "median_s": statistics.median(times[name]),
            "times_s": times[name],
        }
    result["time_ratio"] = result["kzmon"]["median_s"] / result["trafilatura"]["median_s"]
    result["f1_diff"] = result["kzmon"]["f1"] - result["trafilatura"]["f1"]
    return result


def load_baseline(path: Path = BASELINE_PATH) -> dict:
    """The committed quality floor (``f1_floor``, ``max_time_ratio``, ...)."""
    return json.loads(path.read_text(encoding="utf-8"))


def verdicts(result: dict, baseline: dict) -> dict[str, bool]:
    """Which gates pass: F1 ≥ plain, F1 ≥ floor, time ratio ≤ target."""
    return {
        "f1_at_least_plain": result["f1_diff"] >= 0,
        "f1_above_floor": result["kzmon"]["f1"] >= baseline["f1_floor"],
        "time_ratio_within_target": result["time_ratio"] <= baseline["max_time_ratio"],
    }


def render(result: dict, gates: dict[str, bool]) -> str:
    """The side-by-side table."""
    rows = [f"{'':14}{'trafilatura':>14}{'kzmon':>14}"]
    for metric in ("precision", "recall", "f1", "median_s"):
        plain, mine = result["trafilatura"][metric], result["kzmon"][metric]
        rows.append(f"{metric:14}{plain:14.4f}{mine:14.4f}")
    rows.append(f"pages {result['pages']}, repeats {result['repeats']}")
    rows.append(f"F1 difference (kzmon - trafilatura): {result['f1_diff']:+.4f}")
    rows.append(f"time ratio (kzmon / trafilatura): {result['time_ratio']:.2f}x")
    rows.extend(f"{name}: {'PASS' if ok else 'FAIL'}" for name, ok in gates.items())
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the comparison; 1 when a gate fails."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extract", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--bench-dir", type=Path, default=BENCHMARK_DIR)
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    pages = load_pages(args.bench_dir, args.limit)
    result = run_benchmark(pages, max(1, args.repeats))
    gates = verdicts(result, load_baseline())
    print(render(result, gates))
    if args.json:
        print(json.dumps({**result, "gates": gates}))
    return 0 if all(gates.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
