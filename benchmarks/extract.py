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
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from enrich.extract.evaluation import BenchPage, load_pages, ours, plain_trafilatura, score

LOGGER = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARK_DIR = REPO_ROOT.parent / "shared" / "benchmarks" / "article-extraction-benchmark"
BASELINE_PATH = REPO_ROOT / "tests" / "extract" / "quality_baseline.json"


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
