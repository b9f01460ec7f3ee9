"""Quality gate: micro precision/recall per entity type and incident, relevance F1.

The labelled set is the five real sample articles (text from ``../shared/samples/articles``,
labels from ``../shared/samples/labels.json``) plus the texts of ``labelled.yaml``. Run with
``-s`` to see the scores (they are printed for the lead to quote).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from enrich.tagging import Tagger

HERE = Path(__file__).resolve().parent
KINDS = {"places": "place", "groups": "group", "people": "person", "organizations": "organization"}
RECALL_FLOOR = 0.95
PRECISION_FLOOR = 0.9
RELEVANCE_F1_FLOOR = 0.95
# heldout.yaml was scored once before any tuning on it; its floors are loose on purpose.
HELDOUT_FLOOR = 0.85


@dataclass
class Case:
    """One labelled text: what goes into the tagger and what should come out."""

    id: str
    title: str
    text: str
    relevant: bool
    expected: dict[str, set[str]]
    also_ok: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class Counts:
    """Micro counts of one label kind."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _labels(raw: dict) -> dict[str, set[str]]:
    out = {kind: set(raw.get(kind) or []) for kind in KINDS}
    out["incidents"] = set(raw.get("incidents") or [])
    return out


def load_cases(shared_dir: Path) -> list[Case]:
    """The five samples plus ``labelled.yaml``."""
    data = yaml.safe_load((HERE / "labelled.yaml").read_text(encoding="utf-8"))
    samples = json.loads((shared_dir / "samples" / "labels.json").read_text(encoding="utf-8"))
    cases = []
    for rel_path, raw in samples["articles"].items():
        text = (shared_dir / "samples" / rel_path).read_text(encoding="utf-8")
        also = _labels(data["sample_also_mentioned"].get(rel_path, {}))
        cases.append(Case(rel_path, "", text, raw["relevant"], _labels(raw), also))
    for raw in data["texts"]:
        cases.append(Case(raw["id"], raw["title"], raw["text"], raw["relevant"], _labels(raw)))
    return cases


def _predicted(result: dict) -> dict[str, set[str]]:
    out = {
        kind: {e["name"] for e in result["entities"] if e["type"] == etype}
        for kind, etype in KINDS.items()
    }
    out["incidents"] = set(result["incident_types"])
    return out


def evaluate(cases: list[Case], tagger: Tagger, *, strict: bool) -> tuple[dict, list[str]]:
    """Micro counts per kind plus ``relevance``; and one line per disagreement."""
    counts = {kind: Counts() for kind in [*KINDS, "incidents", "relevance"]}
    errors = []
    for case in cases:
        result = tagger.tag({"title": case.title, "text": case.text})
        predicted = _predicted(result)
        for kind, expected in case.expected.items():
            ok = expected | (set() if strict else case.also_ok.get(kind, set()))
            got = predicted[kind]
            fp, fn = got - ok, expected - got
            counts[kind].tp += len(got & ok)
            counts[kind].fp += len(fp)
            counts[kind].fn += len(fn)
            errors += [f"{case.id} {kind} FP {sorted(fp)}"] if fp else []
            errors += [f"{case.id} {kind} FN {sorted(fn)}"] if fn else []
        relevant = result["kz_security"]["relevant"]
        rel = counts["relevance"]
        rel.tp += relevant and case.relevant
        rel.fp += relevant and not case.relevant
        rel.fn += case.relevant and not relevant
        if relevant != case.relevant:
            errors.append(f"{case.id} relevance {result['kz_security']}")
    return counts, errors


def _report(title: str, counts: dict) -> str:
    lines = [title]
    for kind, c in counts.items():
        lines.append(
            f"  {kind:14s} P={c.precision:.3f} R={c.recall:.3f} F1={c.f1:.3f} "
            f"(tp={c.tp} fp={c.fp} fn={c.fn})"
        )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def cases(shared_dir: Path) -> list[Case]:
    """All labelled cases."""
    return load_cases(shared_dir)


def test_labelled_set_is_big_and_covers_three_languages(shared_dir: Path) -> None:
    data = yaml.safe_load((HERE / "labelled.yaml").read_text(encoding="utf-8"))
    texts = data["texts"]
    assert len(texts) >= 40
    for language in ("en", "ru", "kk"):
        own = [t for t in texts if t["language"] == language]
        assert len(own) >= 10
        assert any(not t["relevant"] for t in own), f"no negative in {language}"


def test_quality_floors(cases: list[Case], tagger: Tagger) -> None:
    strict, _ = evaluate(cases, tagger, strict=True)
    counts, errors = evaluate(cases, tagger, strict=False)
    print()
    print(
        _report(
            f"tagging quality on {len(cases)} labelled texts (strict: labels.json only)", strict
        )
    )
    print(_report("with the verified extra sample mentions of labelled.yaml", counts))
    print("disagreements:\n  " + "\n  ".join(errors))
    for kind in [*KINDS, "incidents"]:
        assert counts[kind].recall >= RECALL_FLOOR, (kind, counts[kind])
        assert counts[kind].precision >= PRECISION_FLOOR, (kind, counts[kind])
    assert counts["relevance"].f1 >= RELEVANCE_F1_FLOOR, counts["relevance"]


def _relevance_only(name: str, tagger: Tagger) -> tuple[Counts, list[str]]:
    data = yaml.safe_load((HERE / name).read_text(encoding="utf-8"))
    cases = [
        Case(raw["id"], raw["title"], raw["text"], raw["relevant"], _labels(raw))
        for raw in data["texts"]
    ]
    counts, errors = evaluate(cases, tagger, strict=True)
    return counts["relevance"], [e for e in errors if " relevance " in e]


def test_relevance_training_texts(tagger: Tagger) -> None:
    """The relevance model's extra training texts (tuned on: relevance only is labelled)."""
    rel, errors = _relevance_only("relevance_train.yaml", tagger)
    print(f"\nrelevance training texts: P={rel.precision:.3f} R={rel.recall:.3f} F1={rel.f1:.3f}")
    print("\n".join(errors))
    assert rel.f1 >= RELEVANCE_F1_FLOOR and rel.precision >= 0.95


def test_heldout_relevance_texts(tagger: Tagger) -> None:
    """Written before the relevance model and never tuned on; scored, loose floor."""
    data = yaml.safe_load((HERE / "heldout_relevance.yaml").read_text(encoding="utf-8"))
    cases = [
        Case(raw["id"], raw["title"], raw["text"], raw["relevant"], _labels(raw))
        for raw in data["texts"]
    ]
    counts, errors = evaluate(cases, tagger, strict=True)
    print()
    print(_report(f"held-out relevance texts ({len(cases)}, never tuned on)", counts))
    print("disagreements:\n  " + "\n  ".join(errors))
    assert counts["relevance"].recall >= 0.95
    assert counts["relevance"].f1 >= 0.85
    assert counts["places"].recall >= 0.95


def test_heldout_texts(tagger: Tagger) -> None:
    data = yaml.safe_load((HERE / "heldout.yaml").read_text(encoding="utf-8"))
    cases = [
        Case(raw["id"], raw["title"], raw["text"], raw["relevant"], _labels(raw))
        for raw in data["texts"]
    ]
    counts, errors = evaluate(cases, tagger, strict=True)
    print()
    print(_report(f"held-out texts ({len(cases)})", counts))
    print("disagreements:\n  " + "\n  ".join(errors))
    for kind, c in counts.items():
        assert min(c.precision, c.recall) >= HELDOUT_FLOOR, (kind, c)


def test_heldout_b_texts(tagger: Tagger) -> None:
    """Held-out set B (67 en/ru/kk texts, written and committed before the second relevance
    round, never tuned on): scored and printed; the floors sit below the measured figures so
    that this stays a check, not a target."""
    data = yaml.safe_load((HERE / "heldout_b.yaml").read_text(encoding="utf-8"))
    cases = [
        Case(raw["id"], raw["title"], raw["text"], raw["relevant"], _labels(raw))
        for raw in data["texts"]
    ]
    counts, errors = evaluate(cases, tagger, strict=True)
    print()
    print(_report(f"held-out set B ({len(cases)}, never tuned on)", counts))
    print("disagreements:\n  " + "\n  ".join(errors))
    assert counts["relevance"].f1 >= 0.9 and counts["relevance"].precision >= 0.9
    assert counts["places"].recall >= 0.9
    assert counts["incidents"].recall >= 0.85
    named = Counts(
        tp=counts["groups"].tp + counts["organizations"].tp,
        fn=counts["groups"].fn + counts["organizations"].fn,
    )
    assert named.recall >= 0.9


def test_places_dev_texts(tagger: Tagger) -> None:
    """The place classes of the third round (region lists, the name after the admin word,
    town adjectives, Kazakh case forms, villages, clubs and foreign bodies): new texts, not
    set C's; places and named entities only."""
    data = yaml.safe_load((HERE / "places_dev.yaml").read_text(encoding="utf-8"))
    errors = []
    counts = Counts()
    named = Counts()
    for raw in data["texts"]:
        result = tagger.tag({"title": raw["title"], "text": raw["text"]})
        predicted = _predicted(result)
        expected = _labels(raw)
        got, want = predicted["places"], expected["places"]
        counts.tp, counts.fp, counts.fn = (
            counts.tp + len(got & want),
            counts.fp + len(got - want),
            counts.fn + len(want - got),
        )
        errors += [f"{raw['id']} FP {sorted(got - want)}"] if got - want else []
        errors += [f"{raw['id']} FN {sorted(want - got)}"] if want - got else []
        for kind in ("groups", "organizations"):
            extra = predicted[kind] - expected[kind]
            named.fp += len(extra)
            errors += [f"{raw['id']} {kind} FP {sorted(extra)}"] if extra else []
    print(f"\nplaces dev set: P={counts.precision:.3f} R={counts.recall:.3f}; named FP {named.fp}")
    print("\n".join(errors))
    assert counts.recall >= 0.95 and counts.precision >= 0.95, errors
    assert named.fp == 0, errors


def test_heldout_c_texts(tagger: Tagger) -> None:
    """Held-out set C (46 en/ru/kk texts, written and committed before the third round, never
    tuned on): scored and printed; floors below the measured figures (a check, not a target)."""
    data = yaml.safe_load((HERE / "heldout_c.yaml").read_text(encoding="utf-8"))
    cases = [
        Case(raw["id"], raw["title"], raw["text"], raw["relevant"], _labels(raw))
        for raw in data["texts"]
    ]
    counts, errors = evaluate(cases, tagger, strict=True)
    print()
    print(_report(f"held-out set C ({len(cases)}, never tuned on)", counts))
    print("disagreements:\n  " + "\n  ".join(errors))
    assert counts["relevance"].f1 >= 0.9 and counts["relevance"].precision >= 0.9
    assert counts["places"].recall >= 0.95 and counts["places"].precision >= 0.95
    assert counts["incidents"].recall >= 0.85
    named = Counts(
        tp=counts["groups"].tp + counts["organizations"].tp,
        fn=counts["groups"].fn + counts["organizations"].fn,
    )
    assert named.recall >= 0.9
