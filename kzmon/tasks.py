"""The functions Airflow tasks call: one per task, each wiring one stage.

They take and return only paths, ids and counts (what XCom carries), never article bodies.
Each is idempotent for its run: crawl output goes to the run's own folder, documents are
upserted by deterministic id, run metrics overwrite their own document.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)


def _as_date(value: str | date | None) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def crawl(
    outlet_id: str,
    run_id: str,
    mode: str = "incremental",
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Crawl one outlet (a Scrapy subprocess); return the run folder and counts."""
    # kzmon.orchestration imports Airflow (~10 s of CPU): only where a task needs it, so the
    # stage functions stay cheap to call outside a worker (benchmarks/e2e.py)
    from kzmon.orchestration import safe_run_id
    from spiders.run import crawl as run_crawl

    result = run_crawl(
        outlet_id,
        run_id=safe_run_id(run_id),
        mode=mode,
        since=_as_date(since),
        until=_as_date(until),
    )
    counts = result.summary.get("counts", {})
    return {
        "outlet": outlet_id,
        "run_dir": str(result.run_dir),
        "pages_path": str(result.pages_path),
        "errors_path": str(result.errors_path),
        "counts": {k: v for k, v in counts.items() if isinstance(v, int)},
    }


def enrich(crawl_out: dict[str, Any]) -> dict[str, Any]:
    """Extract and tag the crawl batch; return the articles file and counts."""
    from enrich.batch import enrich_batch

    return enrich_batch(Path(crawl_out["pages_path"])).as_dict()


def index(enrich_out: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Index the batch's articles (set-up first, idempotent); return counts."""
    from kzmon.es import get_client
    from kzmon.indexer import index_batch_file
    from kzmon.indexer.setup import ensure_setup

    es = get_client()
    ensure_setup(es)
    result = index_batch_file(Path(enrich_out["articles_path"]), es=es, run_id=run_id)
    if result.failed > result.dead_lettered + result.unreadable:
        raise RuntimeError(f"{result.failed} documents failed and were not dead-lettered")
    return {
        "indexed": result.indexed,
        "index_failed": result.failed,
        "dead_lettered": result.dead_lettered,
        "dead_letter_retry_failed": result.retry_failed,
        "parked": result.parked,
        "parked_total": result.parked_total,
        "text_truncated": result.truncated,
        "doc_ids": len(result.doc_ids),
    }


def record_run(
    dag_id: str,
    run_id: str,
    outlet: str | None,
    at: str | None,
    *parts: dict[str, Any],
) -> dict[str, Any]:
    """Write the run's counts (crawl, enrich, index, alerts) to the ops index.

    ``at`` is the moment the run stands for (`kzmon.orchestration.run_time`: its data-interval
    end, else when it was due), so a rerun writes the same document and the health DAG, which
    judges "as of" its own run time, sees the runs that came before it.
    """
    from kzmon.es import get_client
    from kzmon.ops.metrics import parse_at
    from kzmon.ops.metrics import record_run as write

    counts: dict[str, Any] = {}
    for part in parts:
        counts.update(part.get("counts", {}))
        counts.update({k: v for k, v in part.items() if isinstance(v, int)})
    doc = write(
        get_client(),
        dag_id=dag_id,
        run_id=run_id,
        outlet=outlet,
        counts=counts,
        at=parse_at(at),
    )
    return doc["counts"]


def assign_stories() -> dict[str, Any]:
    """Give every indexed article without a story its story (before the alerts read them)."""
    from kzmon.stories.store import assign_stories as assign

    report = assign()
    if report.failed:
        raise RuntimeError(f"{report.failed} articles could not be given a story")
    return {
        "stories_assigned": report.articles,
        "new_stories": report.new_stories,
        "merges": len(report.merges),
        "incidents": report.incidents,
    }


def alerts(mode: str) -> dict[str, Any]:
    """Evaluate the watchlists (``immediate`` or ``digest``) and send what is due."""
    from kzmon.alerts import run_alerts

    result = run_alerts(mode=mode)
    for error in result.errors:
        LOGGER.error("watchlist error: %s", error)
    return {
        "emails_sent": result.emails_sent,
        "entries_sent": result.entries_sent,
        "pending": result.pending,
        "errors": len(result.errors),
        "alerted": result.entries_sent,
    }


def retag_if_needed() -> dict[str, Any]:
    """Re-tag the archive into a new index version when the taxonomy version changed."""
    from kzmon.es import get_client
    from kzmon.indexer.retag import needs_retag, retag
    from kzmon.indexer.setup import ensure_setup

    es = get_client()
    # Under a scheduler this daily DAG starts with the others, before any article index
    # exists: set it up (idempotent, as the index task does) instead of failing on a 404.
    ensure_setup(es)
    if not needs_retag(es):
        LOGGER.info("every indexed article carries the current taxonomy version")
        return {"retagged": False}
    report = retag(es)
    if report.failed:
        raise RuntimeError(f"re-tag failed for {report.failed} documents: {report.errors[:3]}")
    return {
        "retagged": True,
        "source_index": report.source_index,
        "target_index": report.target_index,
        "taxonomy_version": report.taxonomy_version,
        "copied": report.copied,
        "caught_up": report.caught_up,
    }


def health(now: str | None = None) -> dict[str, Any]:
    """Assess every outlet, every language and the cluster, record it; mail ops about outlets
    and languages newly in trouble."""
    from kzmon.es import get_client
    from kzmon.ops import health as ops_health
    from kzmon.ops.metrics import parse_at
    from spiders.registry import load_outlets

    when = parse_at(now) or datetime.now(UTC)
    es = get_client()
    registry = load_outlets()
    outlets = [(o.id, float(o.expected_cadence_hours)) for o in registry]
    languages: dict[str, list[str]] = {}
    for outlet in registry:
        for language in outlet.languages:
            languages.setdefault(language, []).append(outlet.id)
    report = ops_health.assess(es, outlets, now=when, languages=languages)
    newly_bad = ops_health.record(es, report)
    quiet_languages = ops_health.record_languages(es, report)
    if newly_bad or quiet_languages:
        parts = [f"{len(newly_bad)} outlet(s)"] if newly_bad else []
        parts += [f"{len(quiet_languages)} language(s)"] if quiet_languages else []
        _mail_ops(
            f"[kzmon] {' and '.join(parts)} need attention",
            ops_health.summary_text(report, newly_bad, quiet_languages),
        )
    return {
        "problems": report.problems,
        "notified": [o.outlet for o in newly_bad],
        "notified_languages": [h.language for h in quiet_languages],
        "cluster_status": report.cluster_status,
    }


def _mail_ops(subject: str, text: str) -> None:
    """Mail ops through the same SMTP connection the failure notifier uses."""
    import html
    import os

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from kzmon.settings import get_settings

    settings = get_settings()
    conn_id = os.environ.get("KZMON_SMTP_CONN_ID", "smtp_default")
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(
            to=settings.ops_email,
            from_email=settings.mail_from,
            subject=subject,
            html_content=f"<pre>{html.escape(text)}</pre>",
        )
