"""Re-tag the archive when the taxonomy changes, without searchers noticing.

The local cluster has neither the reindex module nor painless, so the copy is done here:
1. a point in time (PIT) over the index behind the read alias, paged with ``search_after``;
2. every document's record is rebuilt from its stored fields (`from_document`), tagged again
   by the current tagger and written into ``<prefix>-articles-v<N+1>`` (refresh off meanwhile);
3. both aliases move to the new index in ONE ``_aliases`` call (atomic for searchers);
4. documents written through the write alias during the copy are caught up;
5. after a short grace period for in-flight searches the old index is deleted (or kept).

A document that cannot be written stops the swap: searchers keep the old index, the new one
is left for inspection (and replaced by the next re-tag), and `RetagError` says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from elasticsearch import Elasticsearch

from kzmon.es import get_client
from kzmon.indexer import mappings
from kzmon.indexer.bulk import IndexOptions, send_documents
from kzmon.indexer.documents import from_document, to_document
from kzmon.indexer.names import Names, get_names, index_version
from kzmon.indexer.setup import alias_targets

LOGGER = logging.getLogger(__name__)

#: Documents per PIT page and per bulk request while copying.
PAGE_SIZE = 500
PIT_KEEP_ALIVE = "5m"
#: Seconds between the alias swap and deleting the old index, so that searches that
#: resolved the alias just before the swap finish on the old index.
DELETE_GRACE_S = 2.0
#: Documents indexed from this long before the copy started are checked again after the
#: swap: a bulk request stamps `indexed_at` a moment before its documents become visible.
CATCH_UP_MARGIN = timedelta(minutes=5)


class TaggerLike(Protocol):
    """What re-tag needs of a tagger (`enrich.tagging.Tagger` is one)."""

    version: str

    def tag(self, record: dict) -> dict:
        """Tags of one record (docs/records.md §2)."""
        ...


@dataclass
class RetagReport:
    """What a re-tag did."""

    source_index: str
    target_index: str
    taxonomy_version: str
    copied: int = 0
    caught_up: int = 0
    failed: int = 0
    old_index_deleted: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)


class RetagError(RuntimeError):
    """Re-tag stopped before the swap; searchers still read the old index."""

    def __init__(self, message: str, report: RetagReport) -> None:
        super().__init__(message)
        self.report = report


def default_tagger() -> TaggerLike:
    """The current tagger of the enrich stage."""
    from enrich.tagging import get_tagger

    return get_tagger()


def indexed_taxonomy_versions(es: Elasticsearch | None = None) -> dict[str, int]:
    """Documents per ``taxonomy_version`` behind the read alias (``""`` for none)."""
    es = es or get_client()
    resp = es.search(
        index=get_names().read_alias,
        size=0,
        aggs={
            "versions": {"terms": {"field": "taxonomy_version", "size": 100}},
            "none": {"missing": {"field": "taxonomy_version"}},
        },
    )
    aggs = resp["aggregations"]
    counts = {b["key"]: b["doc_count"] for b in aggs["versions"]["buckets"]}
    if aggs["none"]["doc_count"]:
        counts[""] = aggs["none"]["doc_count"]
    return counts


def needs_retag(es: Elasticsearch | None = None, tagger: TaggerLike | None = None) -> bool:
    """True when some indexed document was tagged by another taxonomy version."""
    version = (tagger or default_tagger()).version
    return any(v != version for v in indexed_taxonomy_versions(es))


def retag(
    es: Elasticsearch | None = None,
    tagger: TaggerLike | None = None,
    *,
    keep_old: bool = False,
    options: IndexOptions | None = None,
    delete_grace_s: float = DELETE_GRACE_S,
) -> RetagReport:
    """Re-tag every document into the next index version and swap both aliases atomically."""
    es = es or get_client()
    tagger = tagger or default_tagger()
    options = options or IndexOptions()
    names = get_names()
    source = _single_source(es, names)
    target = names.articles_index(index_version(source) + 1)
    report = RetagReport(source, target, tagger.version)
    _create_target(es, target)
    started_at = _iso(datetime.now(UTC) - CATCH_UP_MARGIN)
    for docs in _retagged_pages(es, source, tagger):
        report.copied += _write(es, target, docs, options, report)
    _check(report, "copy")
    es.indices.put_settings(
        index=target,
        settings={"index": {"refresh_interval": mappings.article_settings()["refresh_interval"]}},
    )
    es.indices.refresh(index=target)
    _swap(es, names, source, target)
    _catch_up(es, source, target, started_at, tagger, options, report)
    if report.failed:
        keep_old = True
        LOGGER.error(
            "re-tag catch-up: %d documents not copied; keeping %s: %s",
            report.failed,
            source,
            report.errors,
        )
    if not keep_old:
        time.sleep(delete_grace_s)
        es.indices.delete(index=source)
        report.old_index_deleted = True
    LOGGER.info(
        "re-tagged %d documents (%d caught up) from %s into %s (taxonomy %s)",
        report.copied,
        report.caught_up,
        source,
        target,
        tagger.version,
    )
    return report


def _single_source(es: Elasticsearch, names: Names) -> str:
    """The one index both aliases point at."""
    targets = alias_targets(es, names.read_alias)
    if len(targets) != 1:
        raise RuntimeError(f"{names.read_alias} points at {targets or 'nothing'}; run setup")
    return targets[0]


def _create_target(es: Elasticsearch, target: str) -> None:
    """Create the next index version; remove a leftover of a failed re-tag first."""
    if es.indices.exists(index=target):
        if es.indices.get_alias(index=target).body[target]["aliases"]:
            raise RuntimeError(f"{target} already exists and is aliased; not touching it")
        LOGGER.warning("deleting %s, left over by an unfinished re-tag", target)
        es.indices.delete(index=target)
    es.indices.create(index=target, settings={"index": {"refresh_interval": "-1"}})


def _retagged_pages(
    es: Elasticsearch, source: str, tagger: TaggerLike
) -> Iterator[list[dict[str, Any]]]:
    """Pages of documents of the source index, tagged again."""
    for hits in _pit_pages(es, source):
        yield [_retag_document(hit["_source"], tagger) for hit in hits]


def _pit_pages(
    es: Elasticsearch, index: str, query: dict[str, Any] | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Every hit of an index (or a query on it) through a point in time, page by page."""
    pit_id = es.open_point_in_time(index=index, keep_alive=PIT_KEEP_ALIVE)["id"]
    search_after = None
    try:
        while True:
            resp = es.search(
                pit={"id": pit_id, "keep_alive": PIT_KEEP_ALIVE},
                query=query or {"match_all": {}},
                sort=[{"_shard_doc": "asc"}],
                size=PAGE_SIZE,
                search_after=search_after,
                track_total_hits=False,
            )
            pit_id = resp.get("pit_id", pit_id)
            hits = resp["hits"]["hits"]
            if not hits:
                return
            yield hits
            search_after = hits[-1]["sort"]
    finally:
        es.close_point_in_time(id=pit_id)


def _retag_document(stored: dict[str, Any], tagger: TaggerLike) -> dict[str, Any]:
    """The stored document with fresh tags; indexed_at and run_id are kept."""
    record = from_document(stored)
    record.update(tagger.tag(record))
    return to_document(record, indexed_at=stored.get("indexed_at"), run_id=stored.get("run_id"))


def _write(
    es: Elasticsearch,
    target: str,
    docs: list[dict[str, Any]],
    options: IndexOptions,
    report: RetagReport,
) -> int:
    """Bulk-write re-tagged documents; count and keep their failures."""
    written = 0
    for doc_id, error in send_documents(es, target, docs, options).items():
        if error is None:
            written += 1
        else:
            report.failed += 1
            report.errors.append({"doc_id": doc_id, **error})
    return written


def _check(report: RetagReport, stage: str) -> None:
    if report.failed:
        raise RetagError(
            f"re-tag {stage}: {report.failed} documents could not be written to "
            f"{report.target_index}; aliases left on {report.source_index}",
            report,
        )


def _swap(es: Elasticsearch, names: Names, source: str, target: str) -> None:
    """Move the read and the write alias to the new index in one atomic request."""
    es.indices.update_aliases(
        actions=[
            {"remove": {"index": source, "alias": names.read_alias}},
            {"remove": {"index": source, "alias": names.write_alias}},
            {"add": {"index": target, "alias": names.read_alias}},
            {"add": {"index": target, "alias": names.write_alias, "is_write_index": True}},
        ]
    )
    LOGGER.info("aliases %s and %s now on %s", names.read_alias, names.write_alias, target)


def _catch_up(
    es: Elasticsearch,
    source: str,
    target: str,
    since: str,
    tagger: TaggerLike,
    options: IndexOptions,
    report: RetagReport,
) -> None:
    """Copy what the indexer wrote to the old index during the copy, unless newer in target."""
    es.indices.refresh(index=source)
    query = {"range": {"indexed_at": {"gte": since}}}
    for hits in _pit_pages(es, source, query):
        newer = _newer_in_target(es, target, hits)
        docs = [_retag_document(h["_source"], tagger) for h in hits if h["_id"] not in newer]
        report.caught_up += _write(es, target, docs, options, report)


def _newer_in_target(es: Elasticsearch, target: str, hits: list[dict[str, Any]]) -> set[str]:
    """Ids whose copy in the target index was indexed at or after the source's."""
    resp = es.mget(index=target, ids=[h["_id"] for h in hits], source_includes=["indexed_at"])
    in_target = {
        d["_id"]: d["_source"].get("indexed_at", "") for d in resp["docs"] if d.get("found")
    }
    return {
        h["_id"]
        for h in hits
        if h["_id"] in in_target and in_target[h["_id"]] >= h["_source"].get("indexed_at", "")
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
