"""`make bench-index`: our bulk indexer against a plain `helpers.bulk`, and scaling to 100k docs.

Runs on a node of its own (a temporary folder, 1 GiB heap), so it does not depend on
`make es-up`. Documents are synthetic but shaped like ours: ~1,000 words of text in
paragraphs, a title, entities with geo points, incident types, relevance.

1. Throughput: the same documents are indexed by `kzmon.indexer.index_articles` (records in,
   so building the documents is part of our cost) and by `helpers.bulk` (documents built
   beforehand), each into a fresh index with the same template, same chunk size; the runs are
   interleaved in short rounds (ours, plain, plain, ours, ...) after a warm-up so that the
   load of a shared machine cancels out.
2. Growth: 100k documents go through `index_articles` into one index in 10k slices; the time
   per document of each slice must stay flat as the index grows.

    python -m benchmarks.index [--docs 10000] [--round 500] [--growth 100000] [--slice 10000]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers

LOGGER = logging.getLogger(__name__)

PREFIX = "kzbench"
HEAP = "1g"
WORDS_PER_DOC = 1000
CHUNK_SIZE = 500  # the indexer's default; helpers.bulk gets the same


def _vocabulary(rng: random.Random, size: int = 6000) -> tuple[list[str], list[float]]:
    """Pseudo-words with Zipf-like frequencies (like news text: few frequent, many rare)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 11))) for _ in range(size)]
    cum, total = [], 0.0
    for rank in range(1, size + 1):
        total += 1.0 / rank
        cum.append(total)
    return words, cum


PLACES = [
    ("almaty", "Almaty", 43.24, 76.89),
    ("astana", "Astana", 51.17, 71.45),
    ("atyrau", "Atyrau", 47.10, 51.92),
    ("shymkent", "Shymkent", 42.32, 69.59),
]
INCIDENTS = ["arrest", "protest", "trial", "bombing", "threat", "ban", "riot"]
OUTLETS = ["moscowtimes", "jamestown", "globalvoices", "katehon", "rferl", "azattyq_ru"]


class Corpus:
    """Synthetic tagged article records, reproducible from a seed."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.words, self.cum = _vocabulary(self.rng)

    def _text(self, n_words: int) -> str:
        words = self.rng.choices(self.words, cum_weights=self.cum, k=n_words)
        paragraphs = [" ".join(words[i : i + 80]) + "." for i in range(0, n_words, 80)]
        return "\n\n".join(paragraphs)

    def record(self, i: int) -> dict[str, Any]:
        """One article record with tags (docs/records.md §2)."""
        rng = self.rng
        text = self._text(WORDS_PER_DOC)
        place = PLACES[i % len(PLACES)]
        day = 1 + i % 28
        return {
            "url": f"https://bench.example/{i}",
            "canonical_url": f"https://bench.example/{i}",
            "outlet": OUTLETS[i % len(OUTLETS)],
            "title": self._text(10),
            "authors": ["Bench Writer"],
            "published_at": f"2026-{1 + i % 11:02d}-{day:02d}T08:00:00+00:00",
            "fetched_at": "2026-11-20T10:00:00+00:00",
            "language": "en",
            "text": text,
            "word_count": WORDS_PER_DOC,
            "content_hash": f"{i:064x}",
            "extractor_version": "bench",
            "entities": [
                {
                    "id": f"place:{place[0]}",
                    "type": "place",
                    "name": place[1],
                    "mentions": 2,
                    "first_offset": 0,
                    "geo": {"lat": place[2], "lon": place[3]},
                },
                {"id": "group:g1", "type": "group", "name": "Group One", "mentions": 1},
            ],
            "incident_types": rng.sample(INCIDENTS, 2),
            "kz_security": {"relevant": i % 2 == 0, "score": rng.random(), "reasons": ["bench"]},
            "taxonomy_version": "bench",
        }

    def records(self, start: int, count: int) -> list[dict[str, Any]]:
        """Records start..start+count-1."""
        return [self.record(i) for i in range(start, start + count)]


def _point_write_alias(es: Elasticsearch, index: str) -> None:
    """Make `index` (a fresh index of the template) the target of the write alias."""
    from kzmon.indexer.names import get_names

    names = get_names()
    es.indices.create(index=index)
    actions: list[dict[str, Any]] = [
        {"remove": {"index": f"{PREFIX}-articles-v*", "alias": names.write_alias}},
        {"add": {"index": index, "alias": names.write_alias, "is_write_index": True}},
    ]
    es.indices.update_aliases(actions=actions)


def _ours(es: Elasticsearch, records: list[dict[str, Any]], index: str, dl: Path) -> float:
    from kzmon.indexer import index_articles

    _point_write_alias(es, index)
    start = time.perf_counter()
    result = index_articles(records, es=es, dead_letter_dir=dl)
    elapsed = time.perf_counter() - start
    assert result.indexed == len(records) and result.failed == 0, result.errors[:3]
    return elapsed


def _plain(es: Elasticsearch, docs: list[dict[str, Any]], index: str, _dl: Path) -> float:
    es.indices.create(index=index)
    actions = ({"_index": index, "_id": d["doc_id"], "_source": d} for d in docs)
    start = time.perf_counter()
    ok, errors = helpers.bulk(es, actions, chunk_size=CHUNK_SIZE)
    elapsed = time.perf_counter() - start
    assert ok == len(docs) and not errors
    return elapsed


def throughput(es: Elasticsearch, corpus: Corpus, n_docs: int, round_size: int, dl: Path) -> float:
    """Print docs/s of both and return their ratio (ours / plain).

    The machine is shared, so its load drifts: the documents go in short rounds, the two
    methods alternate which goes first (ABBA...), and each round writes a fresh index that
    is deleted right after, so that no background merge of one method slows the other.
    """
    from kzmon.indexer.documents import now_iso, to_document

    records = corpus.records(0, round_size)
    docs = [to_document(r, indexed_at=now_iso()) for r in records]
    rates: dict[str, list[float]] = {"ours": [], "plain": []}
    rounds = max(2, n_docs // round_size)
    for r in range(-1, rounds):  # round -1 is a warm-up, not counted
        order = ("ours", "plain") if r % 2 == 0 else ("plain", "ours")
        for method in order:
            index = f"{PREFIX}-articles-v{1000 + 2 * (r + 1) + (method == 'plain')}"
            run = _ours if method == "ours" else _plain
            took = run(es, records if method == "ours" else docs, index, dl)
            es.indices.delete(index=index)
            if r >= 0:
                rates[method].append(round_size / took)
    ours_rate, plain_rate = statistics.median(rates["ours"]), statistics.median(rates["plain"])
    print(f"throughput: {rounds} rounds of {round_size:,} documents per method (ABBA order),")
    print(f"  ~{WORDS_PER_DOC} words each, {CHUNK_SIZE} per bulk request; median docs/s of the")
    print("  rounds (a shared machine's load spikes hit single rounds)")
    print(f"kzmon index_articles: {ours_rate:,.0f} docs/s")
    print(f"plain helpers.bulk:   {plain_rate:,.0f} docs/s")
    ratio = ours_rate / plain_rate
    print(f"ratio: {ratio:.2f}")
    mean_ratio = statistics.fmean(rates["ours"]) / statistics.fmean(rates["plain"])
    print(f"(ratio of the mean rates: {mean_ratio:.2f})")
    return ratio


def _index_time_ms(es: Elasticsearch, index: str) -> int:
    """Time the cluster spent indexing into `index` so far (index stats)."""
    stats = es.indices.stats(index=index, metric="indexing")
    return stats["indices"][index]["primaries"]["indexing"]["index_time_in_millis"]


def growth(es: Elasticsearch, corpus: Corpus, total: int, slice_size: int, dl: Path) -> None:
    """Index `total` documents in slices into one index; print ms/doc per slice.

    Two figures per slice: the wall-clock time of `index_articles`, and the time the cluster
    itself spent indexing (index stats), which the load of other processes disturbs less.
    """
    from kzmon.indexer import index_articles

    index = f"{PREFIX}-articles-v200"
    _point_write_alias(es, index)
    print(f"\ntime per document as the index grows ({slice_size:,}-document slices):")
    print("  documents             wall ms/doc   cluster indexing ms/doc")
    wall: list[float] = []
    for start in range(0, total, slice_size):
        records = corpus.records(start, slice_size)
        es_before = _index_time_ms(es, index)
        began = time.perf_counter()
        result = index_articles(records, es=es, dead_letter_dir=dl)
        elapsed = time.perf_counter() - began
        assert result.indexed == slice_size and result.failed == 0
        es_ms = (_index_time_ms(es, index) - es_before) / slice_size
        wall.append(1000 * elapsed / slice_size)
        print(f"  {start:>7,} - {start + slice_size:>7,}   {wall[-1]:8.3f}      {es_ms:8.3f}")
    es.indices.refresh(index=index)
    count = es.count(index=index)["count"]
    print(f"documents in the index: {count:,}")
    print(f"wall time, last slice / first slice: {wall[-1] / wall[0]:.2f}")
    half = len(wall) // 2
    first, second = sorted(wall[:half])[half // 2], sorted(wall[half:])[(len(wall) - half) // 2]
    print(f"wall time, median of the second half / median of the first half: {second / first:.2f}")


def main(argv: list[str] | None = None) -> int:
    """Start a node, run both measurements, stop the node."""
    from kzmon.es import get_client
    from kzmon.indexer.setup import ensure_setup
    from kzmon.localstack.es_node import start_node, stop_node

    parser = argparse.ArgumentParser(prog="python -m benchmarks.index")
    parser.add_argument("--docs", type=int, default=10_000, help="documents per method")
    parser.add_argument("--round", type=int, default=500, help="documents per round")
    parser.add_argument("--growth", type=int, default=100_000, help="documents in the growth run")
    parser.add_argument("--slice", type=int, default=10_000, help="documents per growth slice")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sys.stdout.reconfigure(line_buffering=True)  # a long run: show each line as it comes
    root = Path(tempfile.mkdtemp(prefix="kzmon-bench-index-"))
    root.chmod(0o755)
    os.environ["KZMON_INDEX_PREFIX"] = PREFIX
    try:
        info = start_node(root / "es", heap=HEAP)
        os.environ["ES_URL"] = info.url
        es = get_client()
        ensure_setup(es)
        corpus = Corpus()
        throughput(es, corpus, args.docs, args.round, root / "dead-letter")
        growth(es, corpus, args.growth, args.slice, root / "dead-letter")
        es.close()
    finally:
        stop_node(root / "es")
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
