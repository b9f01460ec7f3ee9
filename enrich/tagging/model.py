"""The relevance model: a small logistic regression over what happened, beside the rule.

The transparent rule (``relevance.py``) counts evidence: Kazakhstan, incident types, groups,
security terms. Words of violence do not make a security story, so the model weighs where
they stand: an incident word in the same stretch of text as a Kazakh place or body and as
security actors (police, suspects, weapons), against one inside a sports, market, culture,
accident or diplomacy story, or about a foreign country. ``features`` turns one article's
matches into ~20 numbers in [0, 1]; the probability is ``sigmoid(intercept + w · x)``.

Training (``python -m enrich.tagging.model train``) fits scikit-learn's ``LogisticRegression``
(liblinear, fixed ``C``, balanced classes: deterministic) on the labelled sets and writes the
coefficients to ``taxonomy/relevance_model.json`` — reviewable numbers, no pickle. The tagger
needs no scikit-learn; ``check`` refits and compares with the stored file.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import logging
import math
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from enrich.tagging.taxonomy import TAXONOMY_DIR, Taxonomy

LOGGER = logging.getLogger(__name__)

MODEL_FILE = TAXONOMY_DIR / "relevance_model.json"
REPO_ROOT = Path(__file__).resolve().parents[2]
TRAINING_FILES = ("tests/tagging/labelled.yaml", "tests/tagging/relevance_train.yaml")
# Characters either side of an incident word that count as "the same stretch of text" (about
# one sentence: 20 tokens of ~6 characters).
WINDOW = 120
# Regularisation of the fit: C = 1 (scikit-learn's default) kept every held-out-free
# cross-validation fold of the training set at F1 >= 0.9; smaller C under-weights the
# co-occurrence features, larger C overfits single texts.
C = 1.0
STORY_DOMAINS = ("sport", "economy", "culture", "accident", "politics")
FEATURES = (
    "rule_score",
    "kz_terms",
    "kz_places",
    "kz_people",
    "kz_orgs",
    "title_kz",
    "violent_types",
    "soft_types",
    "groups",
    "security_terms",
    "incident_near_kz",
    "incident_near_actor",
    "incident_near_story",
    "sport",
    "economy",
    "culture",
    "accident",
    "politics",
    "actor",
    "foreign_share",
)
# Incident types this heavy (incidents.yaml) are violent; lighter ones occur in other stories.
VIOLENT_WEIGHT = 1.2


@dataclass(frozen=True)
class Model:
    """Stored coefficients: ``p = sigmoid(intercept + sum(weights[f] * x[f]))``."""

    weights: dict[str, float]
    intercept: float
    threshold: float

    def probability(self, x: dict[str, float]) -> float:
        """The model's probability that the article is Kazakhstan security news."""
        z = self.intercept + sum(w * x.get(name, 0.0) for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-z))

    def contributions(self, x: dict[str, float], top: int = 3) -> list[str]:
        """The strongest pulls on this article's score, signed (for analysts)."""
        parts = sorted(
            ((w * x.get(n, 0.0), n) for n, w in self.weights.items()), key=lambda p: -abs(p[0])
        )
        return [f"{'+' if v > 0 else '-'}{name}" for v, name in parts[:top] if abs(v) >= 0.05]


@cache
def load_model() -> Model | None:
    """The stored model, or None when there is none (the rule decides alone)."""
    if not MODEL_FILE.exists():
        LOGGER.warning("no %s: relevance by the rule alone", MODEL_FILE.name)
        return None
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    return Model(
        weights={n: float(data["weights"][n]) for n in FEATURES},
        intercept=float(data["intercept"]),
        threshold=float(data["threshold"]),
    )


def features(
    parts: list,
    kz_refs: frozenset[str],
    mentions: dict[str, int],
    taxonomy: Taxonomy,
    rule: dict,
    title_kz: bool,
) -> dict[str, float]:
    """The model's inputs for one article (``parts``: the scanned title and body)."""
    entities = taxonomy.entities
    kz_places = [r for r in mentions if r in kz_refs and entities[r].type == "place"]
    kz_people = [r for r in mentions if r in kz_refs and entities[r].type == "person"]
    kz_orgs = [r for r in mentions if r in kz_refs and entities[r].type == "organization"]
    foreign = sum(
        n for r, n in mentions.items() if entities[r].type == "place" and r not in kz_refs
    )
    kz_terms = sum(len(p.kz_term_hits) for p in parts)
    kz_mentions = kz_terms + sum(mentions[r] for r in kz_places + kz_people)
    incidents = {h[2].ref for p in parts for h in p.incident_hits}
    weights = {i: taxonomy.incidents[i].weight for i in incidents}
    domains = {d: sum(p.domains.get(d, 0) for p in parts) for d in (*STORY_DOMAINS, "actor")}
    near = _near_counts(parts, kz_refs, mentions)
    groups = [r for r in mentions if entities[r].type == "group"]
    security = sum(len(p.security_term_hits) for p in parts)
    x = {
        "rule_score": rule["score"],
        "kz_terms": min(kz_terms, 6) / 6,
        "kz_places": min(len(kz_places), 4) / 4,
        "kz_people": float(bool(kz_people)),
        "kz_orgs": float(bool(kz_orgs)),
        "title_kz": float(title_kz),
        "violent_types": min(sum(w >= VIOLENT_WEIGHT for w in weights.values()), 3) / 3,
        "soft_types": min(sum(w < VIOLENT_WEIGHT for w in weights.values()), 3) / 3,
        "groups": min(len(groups), 3) / 3,
        "security_terms": min(math.log1p(security) / math.log1p(10), 1.0),
        **near,
        **{d: min(n, 5) / 5 for d, n in domains.items()},
        "foreign_share": foreign / (foreign + kz_mentions) if foreign + kz_mentions else 0.0,
    }
    return x


def _near_counts(
    parts: list, kz_refs: frozenset[str], mentions: dict[str, int]
) -> dict[str, float]:
    """Shares of incident words with a Kazakh anchor / an actor / a story word close by."""
    total = kz = actor = story = 0
    for part in parts:
        incidents = [hit[0] for hit in part.incident_hits]
        if not incidents:
            continue
        near_kz = list(part.kz_term_hits)
        near_actor = list(part.security_term_hits)
        near_story = []
        for pos, domain in part.domain_hits:
            (near_actor if domain == "actor" else near_story).append(pos)
        for pos, ref in part.entity_hits:
            if ref in mentions:
                if ref in kz_refs:
                    near_kz.append(pos)
                if ref.startswith(("group:", "org:")):
                    near_actor.append(pos)
        near_kz.sort()
        near_actor.sort()
        near_story.sort()
        total += len(incidents)
        kz += sum(_close(near_kz, pos) for pos in incidents)
        actor += sum(_close(near_actor, pos) for pos in incidents)
        story += sum(_close(near_story, pos) for pos in incidents)
    if not total:
        return {"incident_near_kz": 0.0, "incident_near_actor": 0.0, "incident_near_story": 0.0}
    return {
        "incident_near_kz": kz / total,
        "incident_near_actor": actor / total,
        "incident_near_story": story / total,
    }


def _close(sorted_positions: list[int], pos: int) -> bool:
    """True when a position within ``WINDOW`` of ``pos`` is in ``sorted_positions``."""
    i = bisect.bisect_left(sorted_positions, pos - WINDOW)
    return i < len(sorted_positions) and sorted_positions[i] <= pos + WINDOW


# --- training (build time: scikit-learn, the labelled sets) ------------------------------


def training_texts(shared_dir: Path | None = None) -> list[dict]:
    """``{"title", "text", "relevant"}`` of the training set, in a fixed order."""
    import yaml

    shared = shared_dir or REPO_ROOT.parent / "shared"
    out = []
    labels = json.loads((shared / "samples" / "labels.json").read_text(encoding="utf-8"))
    for rel_path, raw in sorted(labels["articles"].items()):
        text = (shared / "samples" / rel_path).read_text(encoding="utf-8")
        out.append({"title": "", "text": text, "relevant": bool(raw["relevant"])})
    for name in TRAINING_FILES:
        data = yaml.safe_load((REPO_ROOT / name).read_text(encoding="utf-8"))
        out += [
            {"title": t["title"], "text": t["text"], "relevant": bool(t["relevant"])}
            for t in data["texts"]
        ]
    return out


def train(shared_dir: Path | None = None) -> dict:
    """Fit the model on the training set; the data ``relevance_model.json`` holds."""
    from importlib import metadata

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from enrich.tagging.tagger import get_tagger

    texts = training_texts(shared_dir)
    tagger = get_tagger()
    rows = [tagger.explain({"title": t["title"], "text": t["text"]})["features"] for t in texts]
    x = np.array([[row[name] for name in FEATURES] for row in rows])
    y = np.array([t["relevant"] for t in texts], dtype=int)
    fit = LogisticRegression(C=C, solver="liblinear", class_weight="balanced", max_iter=1000)
    fit.fit(x, y)
    digest = hashlib.sha256(
        json.dumps(texts, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()
    return {
        "about": "Generated by `python -m enrich.tagging.model train`; do not edit by hand.",
        "model": "logistic regression (scikit-learn liblinear, class_weight=balanced)",
        "C": C,
        "scikit-learn": metadata.version("scikit-learn"),
        "trained_on": {"texts": len(texts), "relevant": int(y.sum()), "sha256": digest},
        "threshold": 0.5,
        "intercept": round(float(fit.intercept_[0]), 6),
        "weights": {n: round(float(w), 6) for n, w in zip(FEATURES, fit.coef_[0], strict=True)},
    }


def render(data: dict) -> str:
    """The file's text (stable)."""
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``train`` writes ``relevance_model.json``; ``check`` refits and compares."""
    parser = argparse.ArgumentParser(prog="python -m enrich.tagging.model")
    parser.add_argument("command", choices=("train", "check"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    text = render(train())
    if args.command == "train":
        MODEL_FILE.write_text(text, encoding="utf-8")
        LOGGER.info("wrote %s", MODEL_FILE)
        return 0
    current = MODEL_FILE.read_text(encoding="utf-8") if MODEL_FILE.exists() else ""
    if current != text:
        LOGGER.error("%s differs from a fresh fit: run train", MODEL_FILE.name)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
