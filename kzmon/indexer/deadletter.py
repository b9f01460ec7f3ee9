"""The dead-letter box: documents that kept failing, kept on disk until a later run indexes them.

Layout: ``<dir>/articles.jsonl``, one JSON line per failed document::

    {"doc_id", "record", "status", "error", "reason", "attempts", "first_failed_at",
     "last_failed_at", "run_id"}

A run *claims* the pending files first (atomic rename to ``articles.retrying-<pid>-<n>.jsonl``),
re-sends their records, and deletes a claimed file only when the run ends normally; a run that
dies leaves the claimed file behind and the next run claims it again. Operators may edit a
record in the file to fix it; the next run sends the edited record.

A document Elasticsearch keeps rejecting (a mapping conflict, a date it cannot parse) would be
re-sent on every run for ever. After a few rejections (`IndexOptions.park_after`) it is
*parked*: moved to ``<dir>/parked/articles.jsonl`` with its last reason and ``parked_at``, and
no longer re-sent. ``python -m kzmon.indexer dead-letters`` lists what is parked;
``--requeue`` puts parked documents back in the box (after fixing the cause).
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kzmon.jsonl import iter_jsonl
from kzmon.localstack.ports import pid_alive

LOGGER = logging.getLogger(__name__)

_ACTIVE: set[Path] = set()
_ACTIVE_LOCK = threading.Lock()
_COUNTER = itertools.count()


class DeadLetterBox:
    """The dead-letter files of one kind of document in one folder."""

    def __init__(self, directory: Path, name: str = "articles") -> None:
        self.directory = directory
        self.name = name

    @property
    def pending_path(self) -> Path:
        """Where new failures are appended."""
        return self.directory / f"{self.name}.jsonl"

    def files(self) -> list[Path]:
        """Every dead-letter file of this box (pending and claimed)."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"{self.name}*.jsonl"), key=_mtime)

    def claim(self) -> list[Path]:
        """Take the files no live run is working on; return them renamed as ours."""
        claimed: list[Path] = []
        with _ACTIVE_LOCK:
            for path in self.files():
                if path in _ACTIVE or _owned_by_other_live_process(path):
                    continue
                target = path.with_name(
                    f"{self.name}.retrying-{os.getpid()}-{next(_COUNTER)}.jsonl"
                )
                try:
                    path.rename(target)
                except FileNotFoundError:
                    continue  # claimed by another process in between
                _ACTIVE.add(target)
                claimed.append(target)
        return claimed

    def release(self, paths: Iterable[Path], *, done: bool) -> None:
        """Give claimed files back; delete them when their records were all handled."""
        with _ACTIVE_LOCK:
            for path in paths:
                _ACTIVE.discard(path)
                if done:
                    path.unlink(missing_ok=True)

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Append failed documents to the pending file (locked against concurrent runs)."""
        if entries:
            _append_locked(self.pending_path, entries)

    def entries(self, paths: Iterable[Path] | None = None) -> list[dict[str, Any]]:
        """The entries of some files (default: all), the latest one per doc_id."""
        return _latest(_read_lines(self.files() if paths is None else paths))

    @property
    def parked_path(self) -> Path:
        """Where documents that kept being rejected are kept (never re-sent by a run)."""
        return self.directory / "parked" / f"{self.name}.jsonl"

    def park(self, entries: list[dict[str, Any]]) -> None:
        """Move entries to the parked file (the caller no longer keeps them in the box)."""
        if entries:
            _append_locked(self.parked_path, entries)

    def parked(self) -> list[dict[str, Any]]:
        """The parked entries, the latest one per doc_id."""
        return _latest(_read_lines([self.parked_path] if self.parked_path.is_file() else []))

    def unpark(self, doc_ids: set[str]) -> int:
        """Drop the parked entries of these documents; returns how many lines were dropped."""
        if not doc_ids or not self.parked_path.is_file():
            return 0
        with _locked(self.parked_path) as fh:
            fh.seek(0)
            lines = fh.readlines()
            keep = [line for line in lines if _doc_id_of(line) not in doc_ids]
            if len(keep) != len(lines):
                fh.seek(0)
                fh.truncate()
                fh.writelines(keep)
                fh.flush()
                os.fsync(fh.fileno())
        return len(lines) - len(keep)

    def requeue(self, doc_ids: set[str] | None = None) -> int:
        """Put parked entries (all, or these doc_ids) back in the box with fresh counts."""
        entries = [e for e in self.parked() if doc_ids is None or e.get("doc_id") in doc_ids]
        for entry in entries:
            entry.pop("parked_at", None)
            entry["rejections"] = 0
            entry["attempts"] = 0
        self.append(entries)
        self.unpark({e.get("doc_id", "") for e in entries})
        return len(entries)


def _latest(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last entry of each doc_id, in the order of their last appearance."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in entries:
        latest.pop(entry.get("doc_id", ""), None)
        latest[entry.get("doc_id", "")] = entry
    return list(latest.values())


def _doc_id_of(line: str) -> str | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value.get("doc_id") if isinstance(value, dict) else None


@contextmanager
def _locked(path: Path) -> Iterator[Any]:
    """The file opened for reading and appending, under an exclusive lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _append_locked(path: Path, entries: list[dict[str, Any]]) -> None:
    """Append entries as JSON lines (locked against concurrent runs, synced)."""
    lines = "".join(json.dumps(e, ensure_ascii=False, default=str) + "\n" for e in entries)
    with _locked(path) as fh:
        fh.write(lines)
        fh.flush()
        os.fsync(fh.fileno())


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _owned_by_other_live_process(path: Path) -> bool:
    """True for a file another running process has claimed."""
    parts = path.name.split(".retrying-")
    if len(parts) != 2:
        return False
    pid_text = parts[1].split("-", 1)[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and pid_alive(pid)


def _read_lines(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        for line in iter_jsonl(path):
            if line.error is None:
                yield line.value
                continue
            LOGGER.error("unreadable dead-letter line %s:%d kept aside", path, line.number)
            _quarantine(path, line.text)


def _quarantine(path: Path, line: str) -> None:
    """Keep a line that is not JSON (a hand edit gone wrong) where a person will see it."""
    with path.with_name("unreadable.txt").open("a", encoding="utf-8") as fh:
        fh.write(line if line.endswith("\n") else line + "\n")
