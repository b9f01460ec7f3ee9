"""The transparent relevance rule: is the article about security in or concerning Kazakhstan?

Two strengths, each ``1 - exp(-points)`` so that evidence adds up but saturates at 1:

- Kazakhstan: mentions of Kazakhstan/Kazakh (capped), distinct Kazakh places, Kazakh people
  (officials, Kazakh militants) and Kazakh security bodies, each weighted in ``relevance.yaml``;
- security: distinct incident types (each with its own weight in ``incidents.yaml``), distinct
  militant groups, security terms (terrorism, extremist, ...; capped), security bodies.

``focus`` = share of place-like mentions that are Kazakh (Kazakhstan terms, Kazakh places and
people) over those plus foreign place mentions, divided by ``share_floor`` and capped at 1: a
Syria story that names Kazakhstan in passing has a low share.
``score = kz * security * focus``; ``relevant`` when ``score >= threshold``.
``reasons`` lists what fired.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field

from enrich.tagging.taxonomy import Taxonomy

LOGGER = logging.getLogger(__name__)


@dataclass
class Evidence:
    """What the matcher found that the relevance rule weighs."""

    kz_terms: int = 0
    security_terms: int = 0
    entity_mentions: Counter[str] = field(default_factory=Counter)
    incidents: set[str] = field(default_factory=set)
    title_kz: bool = False


def _saturate(points: float) -> float:
    return 1.0 - math.exp(-points)


def entity_rows(taxonomy: Taxonomy) -> dict[str, tuple[str, bool, str]]:
    """Per entity id: (type, is Kazakh, name), what ``score`` reads (build once)."""
    kz = taxonomy.relevance.kz_country
    return {r: (e.type, e.country == kz, e.name) for r, e in taxonomy.entities.items()}


def score(
    evidence: Evidence, taxonomy: Taxonomy, rows: dict[str, tuple[str, bool, str]] | None = None
) -> dict:
    """``{"relevant", "score", "reasons"}`` for one article's evidence (``rows``: the
    taxonomy's ``entity_rows``, when the caller keeps them)."""
    rel = taxonomy.relevance
    w, caps = rel.weights, rel.caps
    rows = rows if rows is not None else entity_rows(taxonomy)
    kz_places, kz_people, groups, kz_orgs, orgs = [], [], [], [], []
    kz_mentions, foreign_mentions = evidence.kz_terms, 0
    for entity_id, count in evidence.entity_mentions.items():
        kind, is_kz, name = rows[entity_id]
        if kind == "place":
            if is_kz:
                kz_places.append(name)
                kz_mentions += count
            else:
                foreign_mentions += count
        elif kind == "person":
            if is_kz:
                kz_people.append(name)
                kz_mentions += count
        elif kind == "group":
            groups.append(name)
        else:
            (kz_orgs if is_kz else orgs).append(name)
    kz_points = (
        w["kz_term"] * min(evidence.kz_terms, caps["kz_term"])
        + w["kz_place"] * min(len(kz_places), caps["kz_place"])
        + w["kz_person"] * len(kz_people)
        + w["kz_org"] * len(kz_orgs)
        + (w["kz_title"] if evidence.title_kz else 0.0)
    )
    incidents = taxonomy.incidents
    incident_points = sum(incidents[i].weight for i in evidence.incidents)
    security_points = (
        incident_points
        + w["group"] * min(len(groups), caps["group"])
        + w["security_term"] * min(evidence.security_terms, caps["security_term"])
        + w["security_org"] * (len(kz_orgs) + len(orgs))
    )
    share = kz_mentions / (kz_mentions + foreign_mentions) if kz_mentions else 0.0
    focus = min(1.0, share / rel.share_floor)
    value = round(_saturate(kz_points) * _saturate(security_points) * focus, 3)
    reasons = _reasons(evidence, kz_places + kz_people, kz_orgs + orgs, groups, share)
    return {"relevant": value >= rel.threshold, "score": value, "reasons": reasons}


def _reasons(
    evidence: Evidence, kz_places: list[str], orgs: list[str], groups: list[str], share: float
) -> list[str]:
    reasons = []
    if evidence.kz_terms:
        reasons.append(f"kazakhstan mentioned x{evidence.kz_terms}")
    if evidence.title_kz:
        reasons.append("kazakhstan in title")
    if kz_places:
        reasons.append("kazakh places/people: " + ", ".join(sorted(kz_places)))
    if evidence.incidents:
        reasons.append("incidents: " + ", ".join(sorted(evidence.incidents)))
    if groups:
        reasons.append("groups: " + ", ".join(sorted(groups)))
    if orgs:
        reasons.append("security bodies: " + ", ".join(sorted(orgs)))
    if evidence.security_terms:
        reasons.append(f"security terms x{evidence.security_terms}")
    reasons.append(f"kazakh share of place mentions {share:.2f}")
    return reasons
