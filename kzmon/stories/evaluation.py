"""Scores of story clustering and incident records against a labelled story set.

The labelled set (``tests/stories/labelled_*.yaml``) lists stories, each with ``kind``
(``incident`` | ``security`` | ``negative``), for incidents the event ``date``, ``admin1`` and
optionally ``fatalities`` ``{min, max}``, and its articles: written out (``url``, ``outlet``,
``language``, ``published_at``, ``title``, ``text``) or taken from the offline replay
(``replay: <id>``). Scored through the same rows the ``cluster`` command prints:

- B-cubed precision, recall and F1 over the articles of labelled incidents (both the gold
  and the predicted clusters restricted to those articles), and over all articles;
- the share of cross-language pairs of one labelled story that got one story id;
- for each labelled incident, the incident record of the story most of its articles got:
  date within ±1 day, admin1 equal, fatalities within the labelled range;
- incident records on negative stories (must be none).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

LOGGER = logging.getLogger(__name__)


@dataclass
class LabelledArticle:
    """One article of the labelled set: the CLI input and its gold story."""

    record: dict[str, Any]  # {url, title, text, published_at, outlet}
    story: str
    language: str


@dataclass
class LabelledStory:
    """One labelled story."""

    id: str
    kind: str
    date: date | None = None
    admin1: str | None = None
    fatalities: dict[str, int] | None = None
    urls: list[str] = field(default_factory=list)


def _replay_articles(shared_dir: Path | None) -> dict[str, Any]:
    from spiders.replay.site import load_site

    return {a.id: a for a in load_site(shared_dir).articles}


def load_labelled(
    paths: list[Path], shared_dir: Path | None = None
) -> tuple[list[LabelledArticle], dict[str, LabelledStory]]:
    """The articles (in file order) and stories of the labelled set files."""
    replay: dict[str, Any] | None = None
    articles: list[LabelledArticle] = []
    stories: dict[str, LabelledStory] = {}
    for path in paths:
        for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]:
            story = LabelledStory(
                id=raw["id"],
                kind=raw["kind"],
                date=date.fromisoformat(str(raw["date"])) if raw.get("date") else None,
                admin1=raw.get("admin1"),
                fatalities=raw.get("fatalities"),
            )
            stories[story.id] = story
            for entry in raw["articles"]:
                if "replay" in entry:
                    replay = replay if replay is not None else _replay_articles(shared_dir)
                    article = _from_replay(replay[entry["replay"]], story.id)
                else:
                    article = _written(entry, story.id)
                story.urls.append(article.record["url"])
                articles.append(article)
    return articles, stories


def _from_replay(item: Any, story: str) -> LabelledArticle:
    record = {
        "url": item.url,
        "title": item.title,
        "text": "\n\n".join(item.text_paragraphs),
        "published_at": item.published.isoformat(),
        "outlet": item.outlet,
    }
    return LabelledArticle(record, story, item.language)


def _written(entry: dict[str, Any], story: str) -> LabelledArticle:
    record = {k: entry[k] for k in ("url", "title", "text", "published_at", "outlet")}
    record["text"] = record["text"].strip()
    return LabelledArticle(record, story, entry["language"])


@dataclass
class Scores:
    """Every figure of one evaluation."""

    articles: int
    stories: int
    incidents: int
    bcubed_incident: tuple[float, float, float]
    bcubed_all: tuple[float, float, float]
    cross_language_pairs: int
    cross_language_joined: float
    date_accuracy: float
    region_accuracy: float
    fatalities_within: float
    fatalities_labelled: int
    negatives_with_incident: list[str]
    failures: list[str]

    def lines(self) -> list[str]:
        """The scores as printable lines."""
        p, r, f = self.bcubed_incident
        pa, ra, fa = self.bcubed_all
        return [
            f"labelled set: {self.articles} articles, {self.stories} stories, "
            f"{self.incidents} labelled incidents",
            f"B-cubed over incident articles: P {p:.3f} R {r:.3f} F1 {f:.3f}",
            f"B-cubed over all articles:      P {pa:.3f} R {ra:.3f} F1 {fa:.3f}",
            f"cross-language same-story pairs joined: {self.cross_language_joined:.3f} "
            f"of {self.cross_language_pairs}",
            f"incident date within ±1 day: {self.date_accuracy:.3f}",
            f"incident region (admin1) right: {self.region_accuracy:.3f}",
            f"fatalities within the labelled range: {self.fatalities_within:.3f} "
            f"of {self.fatalities_labelled}",
            f"negative stories with an incident record: {len(self.negatives_with_incident)}",
        ]


def bcubed(gold: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    """B-cubed precision, recall, F1 over the items of `gold` (``item → cluster``)."""
    items = list(gold)
    if not items:
        return 0.0, 0.0, 0.0
    gold_sets: dict[str, set[str]] = {}
    pred_sets: dict[str, set[str]] = {}
    for item in items:
        gold_sets.setdefault(gold[item], set()).add(item)
        pred_sets.setdefault(predicted[item], set()).add(item)
    precision = recall = 0.0
    for item in items:
        same_gold = gold_sets[gold[item]]
        same_pred = pred_sets[predicted[item]]
        both = len(same_gold & same_pred)
        precision += both / len(same_pred)
        recall += both / len(same_gold)
    precision, recall = precision / len(items), recall / len(items)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score(
    articles: list[LabelledArticle], stories: dict[str, LabelledStory], rows: list[dict]
) -> Scores:
    """Score the ``cluster`` rows (one per article, same order) against the labels."""
    predicted = {
        a.record["url"]: row["story_id"] or f"none:{i}"
        for i, (a, row) in enumerate(zip(articles, rows, strict=True))
    }
    incident_of = {row["story_id"]: row["incident"] for row in rows if row["story_id"]}
    gold = {a.record["url"]: a.story for a in articles}
    incident_urls = {a.record["url"] for a in articles if stories[a.story].kind == "incident"}
    failures: list[str] = []
    pairs = joined = 0
    by_story: dict[str, list[LabelledArticle]] = {}
    for a in articles:
        by_story.setdefault(a.story, []).append(a)
    for story_id, members in by_story.items():
        for a, b in combinations(members, 2):
            if a.language != b.language:
                pairs += 1
                if predicted[a.record["url"]] == predicted[b.record["url"]]:
                    joined += 1
                else:
                    failures.append(
                        f"cross-language pair split in {story_id}: "
                        f"{a.record['url']} | {b.record['url']}"
                    )
    date_ok = region_ok = fat_ok = fat_n = 0
    labelled = [s for s in stories.values() if s.kind == "incident"]
    for story in labelled:
        votes = Counter(predicted[u] for u in story.urls)
        incident = incident_of.get(votes.most_common(1)[0][0])
        if incident is None:
            failures.append(f"{story.id}: no incident record")
            fat_n += bool(story.fatalities)
            continue
        got = date.fromisoformat(incident["date"])
        if story.date and abs((got - story.date).days) <= 1:
            date_ok += 1
        else:
            failures.append(f"{story.id}: date {got} (labelled {story.date})")
        admin1 = (incident.get("location") or {}).get("admin1")
        if admin1 == story.admin1:
            region_ok += 1
        else:
            failures.append(f"{story.id}: admin1 {admin1} (labelled {story.admin1})")
        if story.fatalities:
            fat_n += 1
            got_f = incident.get("fatalities")
            lo, hi = story.fatalities["min"], story.fatalities["max"]
            if got_f and lo <= got_f["min"] and got_f["max"] <= hi:
                fat_ok += 1
            else:
                failures.append(f"{story.id}: fatalities {got_f} (labelled {lo}-{hi})")
    negatives = sorted(
        {
            a.story
            for a, row in zip(articles, rows, strict=True)
            if stories[a.story].kind == "negative" and row["incident"] is not None
        }
    )
    restricted_gold = {u: gold[u] for u in incident_urls}
    return Scores(
        articles=len(articles),
        stories=len(stories),
        incidents=len(labelled),
        bcubed_incident=bcubed(restricted_gold, predicted),
        bcubed_all=bcubed(gold, predicted),
        cross_language_pairs=pairs,
        cross_language_joined=joined / pairs if pairs else 1.0,
        date_accuracy=date_ok / len(labelled) if labelled else 1.0,
        region_accuracy=region_ok / len(labelled) if labelled else 1.0,
        fatalities_within=fat_ok / fat_n if fat_n else 1.0,
        fatalities_labelled=fat_n,
        negatives_with_incident=negatives,
        failures=failures,
    )


def cluster_through_cli(records: list[dict[str, Any]], timeout: float = 600.0) -> list[dict]:
    """The rows ``python -m kzmon.stories cluster`` prints for `records` (the CLI contract,
    as the held-out scorer calls it: a subprocess fed JSON lines, no Elasticsearch)."""
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    env = {**os.environ, "ES_URL": "http://127.0.0.1:9"}
    proc = subprocess.run(
        [sys.executable, "-m", "kzmon.stories", "cluster"],
        input=lines,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=True,
    )
    return [json.loads(line) for line in proc.stdout.splitlines()]


def main(argv: list[str] | None = None) -> int:
    """``python -m kzmon.stories.evaluation FILE.yaml...``: score story set files through the
    CLI contract and print the figures and the misses."""
    parser = argparse.ArgumentParser(prog="python -m kzmon.stories.evaluation")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    from kzmon.settings import REPO_ROOT

    shared = Path(os.environ.get("KZMON_SHARED_DIR", REPO_ROOT.parent / "shared"))
    articles, stories = load_labelled(args.files, shared)
    rows = cluster_through_cli([a.record for a in articles])
    scores = score(articles, stories, rows)
    print("\n".join(scores.lines()))
    for failure in scores.failures:
        print("  miss:", failure)
    if args.json:
        out = {k: v for k, v in scores.__dict__.items() if k != "failures"}
        print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
