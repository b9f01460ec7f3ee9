"""Pipeline health: is each outlet still publishing, and are its error rates normal?

Per outlet: hours since a run last found an article new to the pipeline, against its usual
cadence (the registry's ``expected_cadence_hours``), and over the recent runs (the ops index's
run documents) the fetch error rate, extraction failure rate and empty-text rate, with a jump
check on the latest run.
Per language (silence by language, issue #17): the articles that arrived in each language in
the last hours against the same hours of the previous days, so that all Kazakh-language
sources going quiet at once is flagged even when no single outlet has passed its own limit
yet (a blocked crawl, a broken language detector, an upstream change shared by a language's
outlets). See docs/health.md for the rule and how its numbers were chosen.
For the cluster: health status, article index size, free disk in the data folder.
The report goes to the ops index (``kind: health`` per outlet, ``kind: language_health`` per
language) and, when an outlet's or a language's status turns bad, to the ops mailbox.
"""

from __future__ import annotations

import logging
import math
import shutil
import statistics
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


# ---------------------------------------------------------------- silence by language
# The rule: a language is quiet when the articles that arrived in it (``fetched_at``) in the
# last LANGUAGE_WINDOW are at most LANGUAGE_DROP_RATIO of its usual volume for those hours,
# AND so few would be improbable if the usual rate still held (Poisson lower tail below
# LANGUAGE_P_VALUE). "Usual" is the median of the same window on each of the previous
# LANGUAGE_BASELINE_DAYS days, so the time of day (nights are quiet) is accounted for and a
# backfill day or a news spike does not move it. How the numbers were chosen:
#: 6 h: long enough to hold tens of articles in ru/kk at daytime, short enough that an outage
#: is flagged within hours (a 24 h window would need ~17 h to drop by 70 %).
LANGUAGE_WINDOW = timedelta(hours=6)
#: Two weeks: every weekday twice, so one unusual day cannot set the median.
LANGUAGE_BASELINE_DAYS = 14
#: At most 30 % of the usual volume: weekends and holidays bring news volume down to about
#: half, which must not page anyone; a whole language's sources failing brings it near zero.
LANGUAGE_DROP_RATIO = 0.3
#: Improbable under the usual rate: with a median of 5 articles, 0 in the window (p = 0.007)
#: is not yet enough; with 10, 1 article (p = 0.0005) is.
LANGUAGE_P_VALUE = 0.001
#: Below this usual count the window cannot tell silence from chance: no judgement.
LANGUAGE_MIN_USUAL = 5.0


@dataclass
class LanguageHealth:
    """The volume of one language's articles against its usual volume."""

    language: str
    status: str = "ok"  # ok | quiet | insufficient_history
    articles: int = 0
    usual_articles: float = 0.0
    baseline: list[int] = field(default_factory=list)
    p_value: float | None = None
    outlets: list[str] = field(default_factory=list)
    outlets_usual: list[str] = field(default_factory=list)
    outlets_now: list[str] = field(default_factory=list)
    quiet_outlets: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class LanguageVolume:
    """What the articles index says about one language: window count, baseline, outlets."""

    articles: int = 0
    baseline: list[int] = field(default_factory=list)
    outlets_now: set[str] = field(default_factory=set)
    outlets_usual: set[str] = field(default_factory=set)


def poisson_lower_tail(observed: int, rate: float) -> float:
    """P(X <= observed) for X ~ Poisson(rate) (in log space: no underflow for large rates)."""
    if rate <= 0:
        return 1.0
    log_terms = [-rate + k * math.log(rate) - math.lgamma(k + 1) for k in range(observed + 1)]
    top = max(log_terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in log_terms))


def assess_language(
    language: str, volume: LanguageVolume, outlets: Iterable[str] = ()
) -> LanguageHealth:
    """Judge one language from its window count and baseline (pure: no I/O).

    ``outlets`` are the registry outlets that publish in the language; ``volume`` comes from
    the articles index (`language_volumes`).
    """
    health = LanguageHealth(
        language=language,
        articles=volume.articles,
        baseline=list(volume.baseline),
        outlets=sorted(outlets),
        outlets_usual=sorted(volume.outlets_usual),
        outlets_now=sorted(volume.outlets_now),
    )
    usual = statistics.median(volume.baseline) if volume.baseline else 0.0
    health.usual_articles = float(usual)
    if usual < LANGUAGE_MIN_USUAL:
        health.status = "insufficient_history"
        return health
    health.p_value = round(poisson_lower_tail(volume.articles, usual), 6)
    if volume.articles <= LANGUAGE_DROP_RATIO * usual and health.p_value < LANGUAGE_P_VALUE:
        health.status = "quiet"
        health.quiet_outlets = sorted(volume.outlets_usual - volume.outlets_now)
        hours = LANGUAGE_WINDOW.total_seconds() / 3600
        quiet = ", ".join(health.quiet_outlets) or "none of them individually"
        health.problems.append(
            f"quiet: {volume.articles} {language} article(s) in the last {hours:g} h, usually "
            f"{usual:g} at these hours (median of {len(volume.baseline)} days); "
            f"silent outlets: {quiet}"
        )
    return health


def _slot_ranges(now: datetime) -> list[dict[str, str]]:
    """The window (key "0") and the same hours on each baseline day (keys "1".."N")."""
    ranges = []
    for day in range(LANGUAGE_BASELINE_DAYS + 1):
        end = now - timedelta(days=day)
        ranges.append(
            {"key": str(day), "from": (end - LANGUAGE_WINDOW).isoformat(), "to": end.isoformat()}
        )
    return ranges


def language_volumes(
    es: Elasticsearch, languages: Iterable[str], *, now: datetime
) -> dict[str, LanguageVolume]:
    """Per language: articles that arrived in the window and in each baseline slot (one query)."""
    wanted = sorted(set(languages))
    volumes = {lang: LanguageVolume(baseline=[0] * LANGUAGE_BASELINE_DAYS) for lang in wanted}
    alias = f"{get_settings().es_index_prefix}-articles"
    if not wanted or not es.indices.exists_alias(name=alias):
        return volumes
    ranges = _slot_ranges(now)
    resp = es.search(
        index=alias,
        size=0,
        query={
            "bool": {
                "filter": [
                    {"terms": {"language": wanted}},
                    {"range": {"fetched_at": {"gte": ranges[-1]["from"], "lt": now.isoformat()}}},
                ]
            }
        },
        aggs={
            "languages": {
                "terms": {"field": "language", "size": len(wanted)},
                "aggs": {
                    "slots": {
                        "date_range": {"field": "fetched_at", "ranges": ranges},
                        "aggs": {"outlets": {"terms": {"field": "outlet", "size": 200}}},
                    }
                },
            }
        },
    )
    for bucket in resp["aggregations"]["languages"]["buckets"]:
        _fill_volume(volumes[bucket["key"]], bucket["slots"]["buckets"])
    return volumes


def _fill_volume(volume: LanguageVolume, slots: list[dict[str, Any]]) -> None:
    for slot in slots:
        day = int(slot["key"])
        outlets = {b["key"] for b in slot["outlets"]["buckets"]}
        if day == 0:
            volume.articles = slot["doc_count"]
            volume.outlets_now = outlets
        else:
            volume.baseline[day - 1] = slot["doc_count"]
            volume.outlets_usual |= outlets


def assess_languages(
    es: Elasticsearch, languages: dict[str, list[str]], *, now: datetime
) -> list[LanguageHealth]:
    """Health of each language (``{language: [outlet ids publishing in it]}``) at ``now``."""
    volumes = language_volumes(es, languages, now=now)
    return [assess_language(lang, volumes[lang], languages[lang]) for lang in sorted(languages)]


@dataclass
class HealthReport:
    """Health of every outlet, every language and the cluster, at one moment."""

    at: str
    outlets: list[OutletHealth]
    cluster_status: str
    index_size_bytes: int
    disk_free_bytes: int
    languages: list[LanguageHealth] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Every problem found, one line each."""
        lines = [f"{o.outlet}: {p}" for o in self.outlets for p in o.problems]
        return lines + [f"language {h.language}: {p}" for h in self.languages for p in h.problems]


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
    es: Elasticsearch,
    outlets: Iterable[tuple[str, float]],
    *,
    now: datetime,
    languages: dict[str, list[str]] | None = None,
) -> HealthReport:
    """Health of each ``(outlet_id, expected_cadence_hours)``, of each language
    (``{language: [outlet ids]}``, see `assess_languages`) and of the cluster at ``now``."""
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
        languages=assess_languages(es, languages, now=now) if languages else [],
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


def _previous_language_status(es: Elasticsearch, language: str, before: str) -> str | None:
    """The language's status in its last health document before ``before``.

    Filtered in Python, not by a term query, so that it also works on an ops index created
    before ``language`` was mapped (the mapping is ``dynamic: false``).
    """
    filters = [{"term": {"kind": "language_health"}}, {"range": {"at": {"lt": before}}}]
    for doc in _ops_docs(es, filters, size=50):
        if doc.get("language") == language:
            return doc["health"]["status"]
    return None


def record_languages(es: Elasticsearch, report: HealthReport) -> list[LanguageHealth]:
    """Write one ``language_health`` document per language; return those newly quiet."""
    newly_bad = []
    for language in report.languages:
        previous = _previous_language_status(es, language.language, report.at)
        if language.status == "quiet" and previous != "quiet":
            newly_bad.append(language)
        doc = {
            "kind": "language_health",
            "language": language.language,
            "at": report.at,
            "health": {
                k: v for k, v in asdict(language).items() if k not in {"language", "problems"}
            },
            "alerts": language.problems,
        }
        es.index(
            index=ops_index(), id=f"language_health:{language.language}:{report.at}", document=doc
        )
    if report.languages:
        es.indices.refresh(index=ops_index())
    return newly_bad


def summary_text(
    report: HealthReport,
    outlets: list[OutletHealth],
    languages: list[LanguageHealth] | None = None,
) -> str:
    """A plain-text summary of the outlets and languages that need attention."""
    lines = [f"kzmon pipeline health at {report.at} (cluster {report.cluster_status})", ""]
    for language in languages or []:
        lines.append(f"- language {language.language}: {language.status}")
        lines.extend(f"    {problem}" for problem in language.problems)
    for outlet in outlets:
        lines.append(f"- {outlet.outlet}: {outlet.status}")
        lines.extend(f"    {problem}" for problem in outlet.problems)
    return "\n".join(lines)


def as_dict(report: HealthReport) -> dict[str, Any]:
    """The report as plain data (XCom-sized: no article content)."""
    return {**asdict(report), "problems": report.problems}
