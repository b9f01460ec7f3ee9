"""Run metrics: each DAG run's counts, written to the ops index for Kibana and the health DAG.

Documents have a deterministic ``_id`` (``run:<dag_id>:<run_id>``), so a rerun of the same run
overwrites its document instead of adding one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from kzmon.settings import get_settings

LOGGER = logging.getLogger(__name__)

#: The counters a run document carries; missing ones are recorded as 0.
RUN_COUNTERS = (
    "discovered",
    "fetched",
    "new",
    "failed",
    "pages",
    "extracted",
    "extraction_failed",
    "empty_text",
    "indexed",
    "index_failed",
    "dead_lettered",
    "dead_letter_retry_failed",
    "parked",
    "parked_total",
    "text_truncated",
    "relevant",
    "alerted",
)


def ops_index() -> str:
    """The ops index name (``<prefix>-ops``)."""
    return f"{get_settings().es_index_prefix}-ops"


def run_document(
    *, dag_id: str, run_id: str, outlet: str | None, counts: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """The ops document for one run."""
    return {
        "kind": "run",
        "dag_id": dag_id,
        "run_id": run_id,
        "outlet": outlet,
        "at": at.astimezone(UTC).isoformat(),
        "counts": {name: int(counts.get(name) or 0) for name in RUN_COUNTERS},
    }


def parse_at(value: str | datetime | None) -> datetime | None:
    """A run's time from its ISO form (naive means UTC); None when there is none."""
    if value in (None, ""):
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def record_run(
    es: Elasticsearch,
    *,
    dag_id: str,
    run_id: str,
    outlet: str | None,
    counts: dict[str, Any],
    at: datetime | None = None,
) -> dict[str, Any]:
    """Write (or overwrite) the run's metrics document; return it.

    ``at`` is the moment the run stands for; only a caller that has none gets "now".
    """
    if at is None:
        LOGGER.warning("run %s/%s has no run time; recording it as now", dag_id, run_id)
    doc = run_document(
        dag_id=dag_id, run_id=run_id, outlet=outlet, counts=counts, at=at or datetime.now(UTC)
    )
    es.index(index=ops_index(), id=f"run:{dag_id}:{run_id}", document=doc, refresh="wait_for")
    LOGGER.info("recorded run %s/%s: %s", dag_id, run_id, doc["counts"])
    return doc
