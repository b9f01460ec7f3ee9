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


def score(evidence: Evidence, taxonomy: Taxonomy) -> dict:
    """``{"relevant", "score", "reasons"}`` for one article's evidence."""
    rel = taxonomy.relevance
    w, caps = rel.weights, rel.caps
    entities = taxonomy.entities
    kz_places, kz_people, groups, kz_orgs, orgs = [], [], [], [], []
    kz_mentions, foreign_mentions = evidence.kz_terms, 0
    for entity_id, count in evidence.entity_mentions.items():
        entity = entities[entity_id]
        is_kz = entity.country == rel.kz_country
        if entity.type == "place":
            if is_kz:
                kz_places.append(entity.name)
                kz_mentions += count
            else:
                foreign_mentions += count
        elif entity.type == "person" and is_kz:
            kz_people.append(entity.name)
            kz_mentions += count
        elif entity.type == "group":
            groups.append(entity.name)
        elif entity.type == "organization":
            (kz_orgs if is_kz else orgs).append(entity.name)
    kz_points = (
        w["kz_term"] * min(evidence.kz_terms, caps["kz_term"])
        + w["kz_place"] * min(len(kz_places), caps["kz_place"])
        + w["kz_person"] * len(kz_people)
        + w["kz_org"] * len(kz_orgs)
        + (w["kz_title"] if evidence.title_kz else 0.0)
    )
    incident_points = sum(taxonomy.incidents[i].weight for i in evidence.incidents)
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
