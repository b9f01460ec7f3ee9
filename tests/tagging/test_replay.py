"""Sanity check on data the tagger was not written against: the crawl stage's offline replay.

Every replay article carries ``security`` (about Kazakh security or not); the tagger's
relevance should agree. The replay is another stage's data and may grow, so the floor is a
relevance F1, not exact agreement.
"""

from __future__ import annotations

from pathlib import Path

from enrich.tagging import Tagger
from spiders.replay.site import load_site

REPLAY_RELEVANCE_F1_FLOOR = 0.9


def test_relevance_agrees_with_replay_security_flags(tagger: Tagger, shared_dir: Path) -> None:
    site = load_site(shared_dir)
    tp = fp = fn = 0
    disagreements = []
    for article in site.articles:
        text = "\n\n".join(article.text_paragraphs)
        relevance = tagger.tag({"title": article.title, "text": text})["kz_security"]
        tp += relevance["relevant"] and article.security
        fp += relevance["relevant"] and not article.security
        fn += article.security and not relevance["relevant"]
        if relevance["relevant"] != article.security:
            disagreements.append(f"{article.id}: {relevance}")
    f1 = 2 * tp / (2 * tp + fp + fn)
    print(f"\nreplay relevance, {len(site.articles)} articles: F1={f1:.3f} tp={tp} fp={fp} fn={fn}")
    print("\n".join(disagreements))
    assert len(site.articles) >= 25
    assert f1 >= REPLAY_RELEVANCE_F1_FLOOR, disagreements


def test_unrelated_news_is_not_relevant(tagger: Tagger, shared_dir: Path) -> None:
    """181 real news articles from around the world (the extraction benchmark's ground truth):
    none is about security in Kazakhstan."""
    import json

    bench = shared_dir / "benchmarks" / "article-extraction-benchmark" / "ground-truth.json"
    articles = json.loads(bench.read_text(encoding="utf-8"))
    flagged = [
        item["url"]
        for item in articles.values()
        if tagger.tag({"title": "", "text": item.get("articleBody") or ""})["kz_security"][
            "relevant"
        ]
    ]
    print(f"\nunrelated news flagged relevant: {len(flagged)} of {len(articles)}")
    assert flagged == []
