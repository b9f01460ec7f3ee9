"""Idempotent bulk indexing of article records, with retries and a dead-letter box.

- ``_id`` is the sha256 of the canonical URL, so a rerun overwrites instead of duplicating.
- `helpers.streaming_bulk` sends bounded batches and retries documents rejected with 429/5xx
  (exponential backoff); connection errors and time-outs retry the unfinished part of a batch
  with tenacity. Indexing by id makes every retry safe.
- A document that still fails is reported in `IndexResult.errors` and written to the
  dead-letter file, which the next call re-sends first. When Elasticsearch stays unreachable,
  every document not yet indexed (the rest of the input included) is dead-lettered and
  `IndexingError` is raised: the run fails loudly and nothing is lost.
- A dead letter Elasticsearch rejects again and again (a mapping conflict: it will never be
  indexed as it is) is *parked* after `IndexOptions.park_after` rejections: kept apart with its
  reason, reported in `IndexResult.parked_entries`, and no longer re-sent. Transient failures
  (429, 5xx, unreachable) do not count as rejections. `IndexResult.failed` counts only the
  failures of this call's own input, so a caller's exit status reflects new failures only.
- Over-long text is cut to a bound before indexing (`limits`, ``text_truncated``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import ConnectionTimeout, Elasticsearch, SerializationError, helpers
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from kzmon.es import get_client
from kzmon.indexer.deadletter import DeadLetterBox
from kzmon.indexer.documents import doc_id_for, now_iso, record_url, to_document
from kzmon.indexer.limits import max_text_chars
from kzmon.indexer.names import get_names
from kzmon.jsonl import iter_jsonl
from kzmon.settings import get_settings

LOGGER = logging.getLogger(__name__)

#: Per-document statuses worth another try: overload (429) and server-side failures.
RETRY_STATUSES = (429, 500, 502, 503, 504)
PARK_AFTER_ENV = "KZMON_DEAD_LETTER_PARK_AFTER"
#: Rejections of one document before it is parked: the first failure and two re-sends in
#: later runs. A mapping rejection is deterministic; the re-sends cover an operator's fix
#: (an edited record, a mapping change) landing between runs.
DEFAULT_PARK_AFTER = 3


def park_after_from_env() -> int:
    """``KZMON_DEAD_LETTER_PARK_AFTER`` (rejections before parking), default 3."""
    raw = os.environ.get(PARK_AFTER_ENV, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    if raw:
        LOGGER.warning(
            "%s=%r is not a positive integer; using %d", PARK_AFTER_ENV, raw, DEFAULT_PARK_AFTER
        )
    return DEFAULT_PARK_AFTER


@dataclass(frozen=True)
class IndexOptions:
    """Tuning of the bulk indexer.

    500 documents of ~1,000 words are ~4 MB per request: large enough that the request
    overhead is negligible, small enough for a 512 MB heap (measured with `make bench-index`).
    """

    chunk_size: int = 500
    max_chunk_bytes: int = 16 * 1024 * 1024
    #: retries of documents rejected with a RETRY_STATUSES status (streaming_bulk's own)
    max_retries: int = 4
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    #: attempts of a batch when the cluster does not answer (connection refused, time-out)
    connection_attempts: int = 5
    #: rejections (4xx, invalid record) of a dead letter before it is parked
    park_after: int = field(default_factory=park_after_from_env)
    #: failures of any kind (transient ones too, e.g. a 429 that never clears) before parking
    park_after_attempts: int = 20


@dataclass
class IndexResult:
    """What one `index_articles` call did.

    ``failed``/``errors`` are this call's new failures (its input; dead-lettered unless the
    line was unreadable); re-sent dead letters that failed again are ``retry_failed``;
    ``parked_entries`` are the dead letters parked by this call and ``parked_total`` every
    document waiting in the parked file.
    """

    indexed: int = 0
    failed: int = 0
    dead_lettered: int = 0
    doc_ids: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    retried_from_dead_letter: int = 0
    retry_failed: int = 0
    parked: int = 0
    parked_entries: list[dict[str, Any]] = field(default_factory=list)
    parked_total: int = 0
    truncated: int = 0
    unreadable: int = 0


class IndexingError(RuntimeError):
    """Elasticsearch stayed unreachable; unindexed documents were dead-lettered."""

    def __init__(self, message: str, result: IndexResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class _Item:
    """One document on its way, with where it came from."""

    record: dict[str, Any]
    doc: dict[str, Any] | None = None
    dead_letter: dict[str, Any] | None = None  # the entry, when re-sent from the box
    error: dict[str, Any] | None = None


class ClusterUnavailable(RuntimeError):
    """The cluster stayed unreachable for one batch (after `connection_attempts`)."""


def index_articles(
    records: Iterable[dict[str, Any]],
    *,
    es: Elasticsearch | None = None,
    run_id: str | None = None,
    dead_letter_dir: Path | None = None,
    options: IndexOptions | None = None,
    refresh: bool = False,
) -> IndexResult:
    """Index article records through the write alias; re-send dead letters first.

    Records carrying ``"error"`` (failed extraction) are skipped and counted. Raises
    `IndexingError` when Elasticsearch stays unreachable, after dead-lettering every document
    that was not indexed.
    """
    es = es or get_client()
    options = options or IndexOptions()
    box = DeadLetterBox(dead_letter_dir or get_settings().data_dir / "dead-letter")
    claimed = box.claim()
    retries = box.entries(claimed)
    result = IndexResult(retried_from_dead_letter=len(retries))
    if retries:
        LOGGER.info("re-sending %d dead-lettered documents first", len(retries))
    items = chain(
        (_Item(entry.get("record") or {}, dead_letter=entry) for entry in retries),
        (_Item(record) for record in records),
    )
    held: list[dict[str, Any]] = []
    run = _Run(es, get_names().write_alias, options, run_id, result)
    try:
        for batch in _batches(items, options.chunk_size):
            new_failures, box_failures = _split_by_origin(run.send(batch))
            box.append(_park_some(box, new_failures, options, result))
            held.extend(box_failures)  # written at the end, unless indexed later in this call
    except ClusterUnavailable as exc:
        box.release(claimed, done=False)  # their records stay on disk for the next run
        box.append(run.abandon(exc.args[0], items))
        raise IndexingError(
            f"Elasticsearch unreachable: {result.indexed} documents indexed, "
            f"{result.dead_lettered} dead-lettered for the next run",
            result,
        ) from exc.__cause__
    except BaseException:
        box.release(claimed, done=False)  # unexpected: keep the claimed dead letters, re-raise
        raise
    indexed = set(result.doc_ids)
    box.append(_park_some(box, [f for f in held if f["doc_id"] not in indexed], options, result))
    box.release(claimed, done=True)
    if box.unpark(indexed):
        LOGGER.info("parked documents indexed since have left the parked file")
    result.parked_total = len(box.parked())
    if result.parked_total:
        LOGGER.warning(
            "%d documents parked after repeated rejections (%d this run): see %s",
            result.parked_total,
            result.parked,
            box.parked_path,
        )
    if refresh:
        es.indices.refresh(index=get_names().write_alias)
    LOGGER.info(
        "indexed %d, failed %d (dead-lettered %d), skipped %d, dead letters failed again %d",
        result.indexed,
        result.failed,
        result.dead_lettered,
        result.skipped,
        result.retry_failed,
    )
    return result


def should_park(entry: dict[str, Any], options: IndexOptions) -> bool:
    """True for a dead letter rejected `park_after` times (or failed `park_after_attempts`)."""
    return (
        entry.get("rejections", 0) >= options.park_after
        or entry.get("attempts", 0) >= options.park_after_attempts
    )


def _park_some(
    box: DeadLetterBox,
    entries: list[dict[str, Any]],
    options: IndexOptions,
    result: IndexResult,
) -> list[dict[str, Any]]:
    """Park the entries that should be; return the others (to keep in the box)."""
    keep, park = [], []
    for entry in entries:
        (park if should_park(entry, options) else keep).append(entry)
    now = now_iso()
    for entry in park:
        entry["parked_at"] = now
        LOGGER.warning(
            "parking %s (%s) after %d rejections: %s: %s",
            entry.get("doc_id"),
            entry.get("url"),
            entry.get("rejections", 0),
            entry.get("error"),
            entry.get("reason"),
        )
    box.park(park)
    result.parked += len(park)
    result.parked_entries.extend(
        {k: e.get(k) for k in ("doc_id", "url", "error", "reason", "attempts", "rejections")}
        for e in park
    )
    return keep


def _split_by_origin(
    failures: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(failures of new records, failures of records re-sent from the dead-letter box)."""
    new, from_box = [], []
    for failure in failures:
        (from_box if failure.pop("_from_box", False) else new).append(failure)
    return new, from_box


def index_batch_file(path: Path, **kwargs: Any) -> IndexResult:
    """Index the article records of a JSON-lines file (see `index_articles` for kwargs).

    A line that cannot be read (not UTF-8, not JSON, not an object) is reported in
    ``errors`` (``"error": "unreadable_line"``) and counted in ``failed``/``unreadable``;
    every other line is indexed.
    """
    bad_lines: list[dict[str, Any]] = []
    result = index_articles(_read_jsonl(path, bad_lines), **kwargs)
    for bad in bad_lines:
        result.failed += 1
        result.unreadable += 1
        result.errors.append(bad)
    return result


def _read_jsonl(path: Path, bad_lines: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for line in iter_jsonl(path):
        reason = line.error
        if reason is None and not isinstance(line.value, dict):
            reason = f"expected a JSON object, got {type(line.value).__name__}"
        if reason is None:
            yield line.value
            continue
        LOGGER.error("%s:%d unreadable (%s); not indexed", path, line.number, reason)
        bad_lines.append(
            {"source": f"{path}:{line.number}", "error": "unreadable_line", "reason": reason}
        )


def _batches(items: Iterator[_Item], size: int) -> Iterator[list[_Item]]:
    while batch := list(islice(items, size)):
        yield batch


class _Run:
    """The state of one indexing call: where to write, how, and the running totals."""

    def __init__(
        self,
        es: Elasticsearch,
        index: str,
        options: IndexOptions,
        run_id: str | None,
        result: IndexResult,
    ) -> None:
        self.es = es
        self.index = index
        self.options = options
        self.run_id = run_id
        self.result = result
        self.pending: list[_Item] = []
        self.max_text = max_text_chars()

    def send(self, batch: list[_Item]) -> list[dict[str, Any]]:
        """Index one batch; return the dead-letter entries of the documents that failed."""
        indexed_at = now_iso()
        self.max_text = max_text_chars()
        ready = [item for item in batch if self._prepare(item, indexed_at)]
        failed = [item for item in batch if item.error]
        by_id = {item.doc["doc_id"]: item for item in ready}  # a later duplicate wins
        self.pending = list(by_id.values())
        docs = [i.doc for i in self.pending]
        outcome = send_documents(self.es, self.index, docs, self.options, require_alias=True)
        for doc_id, error in outcome.items():
            if error is None:
                self.result.indexed += 1
                self.result.doc_ids.append(doc_id)
            else:
                by_id[doc_id].error = error
                failed.append(by_id[doc_id])
        self.pending = []
        return [self._failure(item) for item in failed]

    def _prepare(self, item: _Item, indexed_at: str) -> bool:
        """Build the document of an item; False for skipped or invalid records."""
        if item.record.get("error"):
            self.result.skipped += 1
            LOGGER.info(
                "not indexing %s: extraction failed (%s)",
                item.record.get("url"),
                item.record["error"],
            )
            return False
        try:
            item.doc = to_document(
                item.record, indexed_at=indexed_at, run_id=self.run_id, max_text=self.max_text
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            item.error = {"status": None, "error": "invalid_record", "reason": str(exc)}
            return False
        if item.doc.get("text_truncated") and not item.record.get("text_truncated"):
            self.result.truncated += 1
        return True

    def _failure(self, item: _Item) -> dict[str, Any]:
        """Count a failed item and build its dead-letter entry."""
        error = item.error or {}
        doc_id = item.doc["doc_id"] if item.doc else _safe_doc_id(item.record)
        url = item.record.get("canonical_url") or item.record.get("url")
        LOGGER.warning("document %s (%s) failed: %s", doc_id, url, error)
        if item.dead_letter is None:
            self.result.failed += 1
            self.result.dead_lettered += 1
            self.result.errors.append({"doc_id": doc_id, "url": url, **error})
        else:
            self.result.retry_failed += 1
        previous = item.dead_letter or {}
        now = now_iso()
        entry = {
            "doc_id": doc_id,
            "url": url,
            "record": item.record,
            **error,
            "attempts": previous.get("attempts", 0) + 1,
            "rejections": previous.get("rejections", 0) + (0 if _transient(error) else 1),
            "first_failed_at": previous.get("first_failed_at", now),
            "last_failed_at": now,
            "run_id": self.run_id,
        }
        if item.dead_letter is not None:
            entry["_from_box"] = True
        return entry

    def abandon(self, reason: str, rest: Iterator[_Item]) -> list[dict[str, Any]]:
        """Dead-letter the unfinished batch and the rest of the input (new records only)."""
        entries = []
        for item in chain(self.pending, rest):
            if item.dead_letter is not None:
                continue  # still in its claimed file
            if item.record.get("error"):
                self.result.skipped += 1
                continue
            item.error = {"status": None, "error": "unreachable", "reason": reason}
            entries.append(self._failure(item))
        return entries


def _transient(error: dict[str, Any]) -> bool:
    """True for a failure that may clear by itself (overload, server error, unreachable)."""
    return error.get("error") == "unreachable" or error.get("status") in RETRY_STATUSES


def _safe_doc_id(record: dict[str, Any]) -> str:
    try:
        return doc_id_for(record_url(record))
    except ValueError:
        return ""


def send_documents(
    es: Elasticsearch,
    index: str,
    docs: list[dict[str, Any]],
    options: IndexOptions,
    *,
    require_alias: bool = False,
) -> dict[str, dict[str, Any] | None]:
    """Index documents by ``doc_id``; map each id to None (indexed) or its error.

    With `require_alias`, `index` must be an alias: a missing write alias fails the documents
    (they are dead-lettered) instead of auto-creating an index without our mapping.

    Raises `ClusterUnavailable` when the cluster does not answer after `connection_attempts`.
    """
    outcome: dict[str, dict[str, Any] | None] = {}
    todo = {doc["doc_id"]: doc for doc in docs}
    retrying = Retrying(
        retry=retry_if_exception_type((ESConnectionError, ConnectionTimeout)),
        wait=wait_exponential(multiplier=options.initial_backoff, max=options.max_backoff),
        stop=stop_after_attempt(options.connection_attempts),
        before_sleep=_log_retry,
    )
    try:
        for attempt in retrying:
            with attempt:
                _stream(es, index, todo, outcome, options, require_alias)
    except RetryError as exc:
        cause = exc.last_attempt.exception()
        raise ClusterUnavailable(f"{type(cause).__name__}: {cause}") from cause
    return outcome


def _log_retry(state: Any) -> None:
    LOGGER.warning(
        "Elasticsearch did not answer (attempt %d): %s; retrying",
        state.attempt_number,
        state.outcome.exception(),
    )


def _stream(
    es: Elasticsearch,
    index: str,
    todo: dict[str, dict[str, Any]],
    outcome: dict[str, dict[str, Any] | None],
    options: IndexOptions,
    require_alias: bool,
) -> None:
    """Send what is still to do; move every answered document from `todo` to `outcome`."""
    try:
        for ok, info in _bulk(es, index, todo, options, require_alias):
            _record(ok, info, todo, outcome)
    except SerializationError:
        _reject_unserializable(es, todo, outcome)
        for ok, info in _bulk(es, index, todo, options, require_alias):
            _record(ok, info, todo, outcome)


def _bulk(
    es: Elasticsearch,
    index: str,
    todo: dict[str, dict[str, Any]],
    options: IndexOptions,
    require_alias: bool,
) -> Iterator[tuple[bool, dict[str, Any]]]:
    """streaming_bulk over the documents; yields as it goes so partial progress is kept."""
    actions = (
        {"_op_type": "index", "_index": index, "_id": doc_id, "_source": doc}
        for doc_id, doc in list(todo.items())
    )
    return helpers.streaming_bulk(
        es,
        actions,
        chunk_size=options.chunk_size,
        max_chunk_bytes=options.max_chunk_bytes,
        raise_on_error=False,
        raise_on_exception=False,
        max_retries=options.max_retries,
        initial_backoff=options.initial_backoff,
        max_backoff=options.max_backoff,
        retry_on_status=RETRY_STATUSES,
        **({"require_alias": True} if require_alias else {}),
    )


def _record(
    ok: bool,
    info: dict[str, Any],
    todo: dict[str, dict[str, Any]],
    outcome: dict[str, dict[str, Any] | None],
) -> None:
    item = next(iter(info.values()))
    doc_id = item.get("_id")
    todo.pop(doc_id, None)
    if ok:
        outcome[doc_id] = None
        return
    error = item.get("error")
    if isinstance(error, dict):
        kind, reason = error.get("type"), error.get("reason")
    else:
        kind, reason = "request_failed", str(error)
    outcome[doc_id] = {"status": item.get("status"), "error": kind, "reason": reason}


def _reject_unserializable(
    es: Elasticsearch, todo: dict[str, dict[str, Any]], outcome: dict[str, dict[str, Any] | None]
) -> None:
    """Fail the documents the client cannot serialise, keep the others."""
    serializer = es.transport.serializers.get_serializer("application/json")
    for doc_id, doc in list(todo.items()):
        try:
            serializer.dumps(doc)
        except SerializationError as exc:
            todo.pop(doc_id)
            outcome[doc_id] = {"status": None, "error": "serialization", "reason": str(exc)}
