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
import hashlib
import heapq
import json
import logging
import math
import operator
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from enrich.tagging.context import FEATURES as READING_FEATURES
from enrich.tagging.context import Reading, Tables
from enrich.tagging.taxonomy import TAXONOMY_DIR

LOGGER = logging.getLogger(__name__)

MODEL_FILE = TAXONOMY_DIR / "relevance_model.json"
REPO_ROOT = Path(__file__).resolve().parents[2]
TRAINING_FILES = ("tests/tagging/labelled.yaml", "tests/tagging/relevance_train.yaml")
# Regularisation of the fit: C = 1 (scikit-learn's default) kept every held-out-free
# cross-validation fold of the training set at F1 >= 0.9; smaller C under-weights the
# co-occurrence features, larger C overfits single texts.
C = 1.0
FEATURES = ("rule_score", *READING_FEATURES, "groups", "kz_bodies")


@dataclass(frozen=True)
class Model:
    """Stored coefficients: ``p = sigmoid(intercept + sum(weights[f] * x[f]))``."""

    weights: dict[str, float]
    intercept: float
    threshold: float

    def pulls(self, x: dict[str, float]) -> list[float]:
        """``weight * input`` per feature, in ``FEATURES`` order."""
        return list(map(operator.mul, self.weights.values(), map(x.__getitem__, self.weights)))

    def probability(self, x: dict[str, float], pulls: list[float] | None = None) -> float:
        """The model's probability that the article is Kazakhstan security news."""
        z = self.intercept + math.fsum(pulls if pulls is not None else self.pulls(x))
        return 1.0 / (1.0 + math.exp(-z))

    def contributions(
        self, x: dict[str, float], top: int = 3, pulls: list[float] | None = None
    ) -> list[str]:
        """The strongest pulls on this article's score, signed (for analysts)."""
        values = pulls if pulls is not None else self.pulls(x)
        strongest = heapq.nlargest(top, zip(map(abs, values), values, self.weights, strict=True))
        return [f"{'+' if v > 0 else '-'}{name}" for size, v, name in strongest if size >= 0.05]


@cache
def load_model() -> Model | None:
    """The stored model, or None when there is none (the rule decides alone)."""
    if not MODEL_FILE.exists():
        LOGGER.warning("no %s: relevance by the rule alone", MODEL_FILE.name)
        return None
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    if set(data["weights"]) != set(FEATURES):
        LOGGER.warning("%s was fitted on other features: run train", MODEL_FILE.name)
        return None
    return Model(
        weights={n: float(data["weights"][n]) for n in FEATURES},
        intercept=float(data["intercept"]),
        threshold=float(data["threshold"]),
    )


def features(
    reading: Reading,
    mentions: dict[str, int],
    tables: Tables,
    rule: dict,
) -> tuple[dict[str, float], list[str]]:
    """The model's inputs for one article (the rule's score, where the security evidence is,
    the story-context words, groups and Kazakhstan's security bodies: ``context.Reading``)
    and the reading's reasons for analysts."""
    evidence = reading.evidence()
    # Any Kazakhstan term, Kazakh place, person or body anywhere in the text.
    kz_any = bool(reading.matches.kz_term_hits) or not tables.kz_entities.isdisjoint(mentions)
    x = {"rule_score": rule["score"]}
    x.update(reading.features(evidence))
    x["kz_any"] = float(kz_any)  # not a model input: the tagger's precondition
    x["groups"] = min(len(tables.groups.intersection(mentions)), 3) / 3
    x["kz_bodies"] = float(not tables.kz_bodies.isdisjoint(mentions))
    return x, reading.reasons(evidence)


# --- training (build time: scikit-learn, the labelled sets) ------------------------------


def training_texts(shared_dir: Path | None = None) -> list[dict]:
    """``{"title", "text", "relevant"}`` of the training set, in a fixed order."""
    import yaml

    shared = shared_dir or REPO_ROOT.parent / "shared"
    out = []
    labels = json.loads((shared / "samples" / "labels.json").read_text(encoding="utf-8"))
    for rel_path, raw in sorted(labels["articles"].items()):
        text = (shared / "samples" / rel_path).read_text(encoding="utf-8")
        out.append({"id": rel_path, "title": "", "text": text, "relevant": bool(raw["relevant"])})
    for name in TRAINING_FILES:
        data = yaml.safe_load((REPO_ROOT / name).read_text(encoding="utf-8"))
        out += [
            {"id": t["id"], "title": t["title"], "text": t["text"], "relevant": bool(t["relevant"])}
            for t in data["texts"]
        ]
    return out


def training_matrix(texts: list[dict]) -> tuple[list[list[float]], list[int]]:
    """The features (``FEATURES`` order) and labels of ``texts``, tagged by the current tagger."""
    from enrich.tagging.tagger import get_tagger

    tagger = get_tagger()
    rows = [tagger.explain({"title": t["title"], "text": t["text"]})["features"] for t in texts]
    return [[row[name] for name in FEATURES] for row in rows], [int(t["relevant"]) for t in texts]


def _fit(x: list[list[float]], y: list[int], c: float = C):
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=c, solver="liblinear", class_weight="balanced", max_iter=1000)
    return fit.fit(x, y)


def cross_validate(c: float = C, folds: int = 5, shared_dir: Path | None = None) -> dict:
    """Stratified ``folds``-fold cross-validation on the training set (fixed seed): relevance
    precision, recall and F1 of the pooled out-of-fold predictions, and the texts missed."""
    from sklearn.model_selection import StratifiedKFold

    texts = training_texts(shared_dir)
    x, y = training_matrix(texts)
    predicted = [0] * len(y)
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y):
        fit = _fit([x[i] for i in train_idx], [y[i] for i in train_idx], c)
        for i, p in zip(test_idx, fit.predict([x[i] for i in test_idx]), strict=True):
            predicted[i] = int(p)
    tp = sum(p and t for p, t in zip(predicted, y, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, y, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, y, strict=True))
    precision, recall = tp / (tp + fp or 1), tp / (tp + fn or 1)
    return {
        "C": c,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(2 * precision * recall / (precision + recall or 1), 3),
        "false_positives": [
            t["id"] for t, p, v in zip(texts, predicted, y, strict=True) if p and not v
        ],
        "false_negatives": [
            t["id"] for t, p, v in zip(texts, predicted, y, strict=True) if v and not p
        ],
    }


def train(shared_dir: Path | None = None) -> dict:
    """Fit the model on the training set; the data ``relevance_model.json`` holds."""
    from importlib import metadata

    texts = training_texts(shared_dir)
    x, y = training_matrix(texts)
    fit = _fit(x, y)
    digest = hashlib.sha256(
        json.dumps(texts, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()
    return {
        "about": "Generated by `python -m enrich.tagging.model train`; do not edit by hand.",
        "model": "logistic regression (scikit-learn liblinear, class_weight=balanced)",
        "C": C,
        "scikit-learn": metadata.version("scikit-learn"),
        "trained_on": {"texts": len(texts), "relevant": sum(y), "sha256": digest},
        "threshold": 0.5,
        "intercept": round(float(fit.intercept_[0]), 6),
        "weights": {n: round(float(w), 6) for n, w in zip(FEATURES, fit.coef_[0], strict=True)},
    }


def render(data: dict) -> str:
    """The file's text (stable)."""
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``train`` writes ``relevance_model.json``; ``check`` refits and compares; ``cv``
    prints a cross-validation of the training set (``--c`` to try another regularisation)."""
    parser = argparse.ArgumentParser(prog="python -m enrich.tagging.model")
    parser.add_argument("command", choices=("train", "check", "cv"))
    parser.add_argument("--c", type=float, default=C)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "cv":
        print(json.dumps(cross_validate(args.c), indent=1))
        return 0
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
