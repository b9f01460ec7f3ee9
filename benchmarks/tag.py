"""``make bench-tag``: tagging speed beside a bare tokenising pass, and its share of extract+tag.

1. Articles of ~1,000 words are built from the five sample articles (``../shared/samples``) and
   the labelled texts (``tests/tagging/labelled.yaml``), paragraphs in a fixed order.
2. In the same run, over the same texts: a bare tokenising pass (``re.findall(r"\\w+", text)``)
   and ``get_tagger().tag(...)``, alternating article by article, timed in process CPU time;
   median of ``--repeats`` runs. Target: tagging costs at most 3x the bare pass.
3. Extract + tag on the crawl replay's article pages (real page templates of the outlets):
   extraction with ``enrich.extract.extract_page`` when it exists, else ``trafilatura.extract``
   (the output says which); tagging's share of the combined time.
4. The automaton's size (keys) and the time to build a tagger from the data files (wall time,
   the taxonomy already imported).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from enrich.tagging import get_tagger

LOGGER = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"
LABELLED = REPO_ROOT / "tests" / "tagging" / "labelled.yaml"
WORDS_PER_ARTICLE = 1000
_WORD_RE = re.compile(r"\w+")


def _paragraphs() -> list[str]:
    out = []
    for path in sorted((SHARED_DIR / "samples" / "articles").glob("*.txt")):
        out += [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    for text in yaml.safe_load(LABELLED.read_text(encoding="utf-8"))["texts"]:
        out += [text["title"], text["text"]]
    return out


def build_articles(count: int) -> list[dict]:
    """``count`` records of ~1,000 words each, cycling through the paragraph pool."""
    pool = _paragraphs()
    articles, index = [], 0
    for n in range(count):
        parts: list[str] = []
        words = 0
        while words < WORDS_PER_ARTICLE:
            paragraph = pool[index % len(pool)]
            index += 1
            parts.append(paragraph)
            words += len(paragraph.split())
        articles.append({"title": f"Article {n}", "text": "\n\n".join(parts)})
    return articles


def _cpu_seconds(func: Callable[[dict], object], items: Sequence[dict]) -> float:
    # CPU time of this process, not wall time: the benchmark machine is shared, and CPU time
    # is what the stage costs.
    start = time.process_time()
    for item in items:
        func(item)
    return time.process_time() - start


def _median_seconds(func: Callable[[dict], object], items: Sequence[dict], repeats: int) -> float:
    return statistics.median(_cpu_seconds(func, items) for _ in range(repeats))


def _extractor() -> tuple[str, Callable[[dict], str]]:
    try:
        from enrich.extract import extract_page
    except ImportError:
        import trafilatura

        return "trafilatura.extract", lambda page: trafilatura.extract(page["html"]) or ""
    return "enrich.extract.extract_page", lambda page: extract_page(page).get("text") or ""


def _replay_pages() -> list[dict]:
    from spiders.replay.site import load_site

    site = load_site(SHARED_DIR)
    pages = []
    for article in site.articles:
        response = site.response_for(article.url)
        html = response.body.decode("utf-8")
        pages.append({"url": article.url, "outlet": article.outlet, "html": html})
    return pages


def bench_extract_and_tag(repeats: int) -> dict:
    """Time extraction and tagging of the replay pages; tagging's share of the sum."""
    name, extract = _extractor()
    pages = _replay_pages()
    tagger = get_tagger()
    records = [{"title": "", "text": extract(page)} for page in pages]
    extract_s = _median_seconds(extract, pages, repeats)
    tag_s = _median_seconds(tagger.tag, records, repeats)
    words = statistics.mean(len(r["text"].split()) for r in records)
    return {
        "extractor": name,
        "pages": len(pages),
        "mean_words": round(words),
        "extract_s": round(extract_s, 4),
        "tag_s": round(tag_s, 4),
        "tag_share": round(tag_s / (extract_s + tag_s), 4),
    }


def bench_tag(count: int, repeats: int) -> dict:
    """Articles/s of the bare tokenising pass and of tagging, same texts, same run.

    The two alternate article by article so that both see the same machine load (the machine
    is shared); the ratio is the median of the per-repeat ratios.
    """
    articles = build_articles(count)
    tagger = get_tagger()
    tagger.tag(articles[0])  # warm up (the automaton is built by get_tagger)
    tokenise_runs, tag_runs = [], []
    clock = time.process_time
    for _ in range(repeats):
        tokenise_s = tag_s = 0.0
        for article in articles:  # alternate per article: both see the same machine load
            start = clock()
            _WORD_RE.findall(article["text"])
            middle = clock()
            tagger.tag(article)
            tokenise_s += middle - start
            tag_s += clock() - middle
        tokenise_runs.append(tokenise_s)
        tag_runs.append(tag_s)
    ratios = [tag / tok for tag, tok in zip(tag_runs, tokenise_runs, strict=True)]
    words = statistics.mean(len(a["text"].split()) for a in articles)
    return {
        "articles": count,
        "mean_words": round(words),
        "repeats": repeats,
        "tokenise_articles_per_s": round(count / statistics.median(tokenise_runs)),
        "tag_articles_per_s": round(count / statistics.median(tag_runs)),
        "tag_vs_tokenise_ratio": round(statistics.median(ratios), 2),
        "target_ratio": 3.0,
    }


def bench_load() -> dict:
    """Keys of the automaton and seconds to build a tagger (data files read, automaton made)."""
    from enrich.tagging.tagger import Tagger
    from enrich.tagging.taxonomy import load_taxonomy

    load_taxonomy.cache_clear()
    start = time.perf_counter()
    tagger = Tagger(load_taxonomy())
    seconds = time.perf_counter() - start
    return {"automaton_keys": tagger.matcher.size, "build_s": round(seconds, 2)}


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and print a readable report plus one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tag", description=__doc__)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    tag = bench_tag(args.articles, args.repeats)
    print(
        f"tagging alone: {tag['tag_articles_per_s']} articles/s vs bare tokenising "
        f"{tag['tokenise_articles_per_s']} articles/s on {tag['articles']} articles of "
        f"~{tag['mean_words']} words (median of {tag['repeats']}): tagging costs "
        f"{tag['tag_vs_tokenise_ratio']}x the bare pass (target <= 3x)"
    )
    both = bench_extract_and_tag(max(1, args.repeats // 2))
    print(
        f"extract+tag on {both['pages']} replay pages (~{both['mean_words']} words, extractor "
        f"{both['extractor']}): extract {both['extract_s']}s, tag {both['tag_s']}s, "
        f"tagging share {both['tag_share']:.1%}"
    )
    load = bench_load()
    print(
        f"automaton: {load['automaton_keys']} keys, tagger built from the data files in "
        f"{load['build_s']}s"
    )
    print(json.dumps({"tag": tag, "extract_and_tag": both, "load": load}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
