"""Pipeline health: is each outlet still publishing, and are its error rates normal?

Per outlet: hours since a run last found an article new to the pipeline, against its usual
cadence (the registry's ``expected_cadence_hours``), and over the recent runs (the ops index's
run documents) the fetch error rate, extraction failure rate and empty-text rate, with a jump
check on the latest run.
For the cluster: health status, article index size, free disk in the data folder.
The report goes to the ops index (``kind: health``) and, when an outlet's status turns bad,
to the ops mailbox.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from kzmon.ops.metrics import ops_index
from kzmon.settings import get_settings

LOGGER = logging.getLogger(__name__)

# An outlet is quiet when its newest article is older than this many times its usual cadence:
# 3x lets a daily outlet skip a weekend day without paging anyone, and still catches a feed
# that broke within a few cycles.
QUIET_FACTOR = 3.0
#: Run documents considered for error rates.
RATE_WINDOW = timedelta(hours=24)
# A latest-run rate "jumps" when it is at least this high and at least twice the window's
# earlier runs (plus a small floor, so 0% -> 5% is not a jump). The replay's deliberate dirt
# gives ~10-30% fetch errors; 50% means most of a run failed.
JUMP_MIN_RATE = 0.5
JUMP_FACTOR = 2.0
JUMP_FLOOR = 0.1
#: Status of an outlet with no recorded run yet (not a problem: no mail).
PENDING = "pending"


@dataclass
class OutletHealth:
    """The health of one outlet."""

    outlet: str
    status: str = "ok"
    articles: int = 0
    last_published_at: str | None = None
    last_new_article_at: str | None = None
    hours_since_last_article: float | None = None
    expected_cadence_hours: float = 1.0
    runs: int = 0
    fetch_error_rate: float = 0.0
    extraction_failure_rate: float = 0.0
    empty_text_rate: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass
class HealthReport:
    """Health of every outlet and of the cluster, at one moment."""

    at: str
    outlets: list[OutletHealth]
    cluster_status: str
    index_size_bytes: int
    disk_free_bytes: int

    @property
    def problems(self) -> list[str]:
        """Every problem found, one line each."""
        return [f"{o.outlet}: {p}" for o in self.outlets for p in o.problems]


def _rate(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


def _run_rates(counts: dict[str, int]) -> tuple[float, float, float]:
    fetch = _rate(counts.get("failed", 0), counts.get("fetched", 0) + counts.get("failed", 0))
    pages = counts.get("pages", 0)
    return (
        fetch,
        _rate(counts.get("extraction_failed", 0), pages),
        _rate(counts.get("empty_text", 0), pages),
    )


def _jumped(latest: float, earlier: list[float]) -> bool:
    baseline = sum(earlier) / len(earlier) if earlier else 0.0
    return latest >= JUMP_MIN_RATE and latest >= JUMP_FACTOR * baseline + JUMP_FLOOR


def _last_articles(es: Elasticsearch, now: datetime) -> dict[str, tuple[int, str | None]]:
    """Per outlet: how many articles are indexed and the newest ``published_at``."""
    alias = f"{get_settings().es_index_prefix}-articles"
    if not es.indices.exists_alias(name=alias):
        return {}
    resp = es.search(
        index=alias,
        size=0,
        query={"range": {"published_at": {"lte": now.isoformat()}}},
        aggs={
            "outlets": {
                "terms": {"field": "outlet", "size": 200},
                "aggs": {"last": {"max": {"field": "published_at"}}},
            }
        },
    )
    out = {}
    for bucket in resp["aggregations"]["outlets"]["buckets"]:
        out[bucket["key"]] = (bucket["doc_count"], bucket["last"].get("value_as_string"))
    return out


def _ops_docs(es: Elasticsearch, filters: list[dict], size: int) -> list[dict[str, Any]]:
    """Ops documents matching all ``filters``, newest first."""
    if not es.indices.exists(index=ops_index()):
        return []
    resp = es.search(
        index=ops_index(),
        size=size,
        query={"bool": {"filter": filters}},
        sort=[{"at": "desc"}],
    )
    return [hit["_source"] for hit in resp["hits"]["hits"]]


def _last_new_article_at(es: Elasticsearch, outlet: str, now: datetime) -> str | None:
    """When a run last found an article new to the pipeline (its run document's ``at``)."""
    docs = _ops_docs(
        es,
        [
            {"term": {"kind": "run"}},
            {"term": {"outlet": outlet}},
            {"range": {"counts.new": {"gt": 0}}},
            {"range": {"at": {"lte": now.isoformat()}}},
        ],
        size=1,
    )
    return docs[0]["at"] if docs else None


def _recent_runs(es: Elasticsearch, outlet: str, now: datetime) -> list[dict[str, int]]:
    """The counts of the outlet's runs in the rate window, newest first."""
    window = {"range": {"at": {"gte": (now - RATE_WINDOW).isoformat(), "lte": now.isoformat()}}}
    docs = _ops_docs(
        es, [{"term": {"kind": "run"}}, {"term": {"outlet": outlet}}, window], size=100
    )
    return [doc["counts"] for doc in docs]


def assess_outlet(
    outlet: str,
    expected_cadence_hours: float,
    last: tuple[int, str | None],
    last_new_at: str | None,
    runs: list[dict[str, int]],
    now: datetime,
) -> OutletHealth:
    """Judge one outlet from when it last gave a new article and its recent runs.

    ``last`` is (articles indexed, newest ``published_at``); ``last_new_at`` is when a run
    last found a new article (None: never); ``runs`` are the recent run counts, newest first.
    """
    health = OutletHealth(outlet=outlet, expected_cadence_hours=expected_cadence_hours)
    health.articles, health.last_published_at = last
    health.last_new_article_at = last_new_at
    if last_new_at:
        newest = datetime.fromisoformat(last_new_at.replace("Z", "+00:00"))
        health.hours_since_last_article = round((now - newest).total_seconds() / 3600, 2)
        if health.hours_since_last_article > QUIET_FACTOR * expected_cadence_hours:
            health.problems.append(
                f"quiet: no new article for {health.hours_since_last_article:.1f} h "
                f"(usual cadence {expected_cadence_hours:g} h)"
            )
    elif runs:
        health.problems.append("quiet: no new article seen yet")
    else:
        health.status = PENDING
    health.runs = len(runs)
    totals: dict[str, int] = {}
    for counts in runs:
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + int(value or 0)
    rates = _run_rates(totals)
    health.fetch_error_rate, health.extraction_failure_rate, health.empty_text_rate = rates
    if runs:
        per_run = [_run_rates(c) for c in runs]
        names = ("fetch error rate", "extraction failure rate", "empty-text rate")
        for i, name in enumerate(names):
            latest, earlier = per_run[0][i], [r[i] for r in per_run[1:]]
            if _jumped(latest, earlier):
                health.problems.append(f"{name} jumped to {latest:.0%}")
    if health.problems:
        health.status = "quiet" if health.problems[0].startswith("quiet") else "errors"
    return health


def assess(
    es: Elasticsearch, outlets: Iterable[tuple[str, float]], *, now: datetime
) -> HealthReport:
    """Health of each ``(outlet_id, expected_cadence_hours)`` and of the cluster at ``now``."""
    settings = get_settings()
    last = _last_articles(es, now)
    results = [
        assess_outlet(
            oid,
            cadence,
            last.get(oid, (0, None)),
            _last_new_article_at(es, oid, now),
            _recent_runs(es, oid, now),
            now,
        )
        for oid, cadence in outlets
    ]
    alias = f"{settings.es_index_prefix}-articles"
    size = 0
    if es.indices.exists_alias(name=alias):
        stats = es.indices.stats(index=alias, metric="store")
        size = stats["_all"]["primaries"]["store"]["size_in_bytes"]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return HealthReport(
        at=now.astimezone(UTC).isoformat(),
        outlets=results,
        cluster_status=es.cluster.health()["status"],
        index_size_bytes=size,
        disk_free_bytes=shutil.disk_usage(settings.data_dir).free,
    )


def _previous_status(es: Elasticsearch, outlet: str, before: str) -> str | None:
    filters = [
        {"term": {"kind": "health"}},
        {"term": {"outlet": outlet}},
        {"range": {"at": {"lt": before}}},
    ]
    docs = _ops_docs(es, filters, size=1)
    return docs[0]["health"]["status"] if docs else None


def record(es: Elasticsearch, report: HealthReport) -> list[OutletHealth]:
    """Write the report to the ops index; return the outlets whose status newly turned bad."""
    newly_bad = []
    for outlet in report.outlets:
        previous = _previous_status(es, outlet.outlet, report.at)
        if outlet.status not in {"ok", PENDING} and previous != outlet.status:
            newly_bad.append(outlet)
        doc = {
            "kind": "health",
            "outlet": outlet.outlet,
            "at": report.at,
            "health": {
                **{k: v for k, v in asdict(outlet).items() if k not in {"outlet", "problems"}},
                "cluster_status": report.cluster_status,
                "index_size_bytes": report.index_size_bytes,
                "disk_free_bytes": report.disk_free_bytes,
            },
            "alerts": outlet.problems,
        }
        es.index(index=ops_index(), id=f"health:{outlet.outlet}:{report.at}", document=doc)
    es.indices.refresh(index=ops_index())
    return newly_bad


def summary_text(report: HealthReport, outlets: list[OutletHealth]) -> str:
    """A plain-text summary of the outlets that need attention."""
    lines = [f"kzmon pipeline health at {report.at} (cluster {report.cluster_status})", ""]
    for outlet in outlets:
        lines.append(f"- {outlet.outlet}: {outlet.status}")
        lines.extend(f"    {problem}" for problem in outlet.problems)
    return "\n".join(lines)


def as_dict(report: HealthReport) -> dict[str, Any]:
    """The report as plain data (XCom-sized: no article content)."""
    return {**asdict(report), "problems": report.problems}
