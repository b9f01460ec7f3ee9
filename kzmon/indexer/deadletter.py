"""The dead-letter box: documents that kept failing, kept on disk until a later run indexes them.

Layout: ``<dir>/articles.jsonl``, one JSON line per failed document::

    {"doc_id", "record", "status", "error", "reason", "attempts", "first_failed_at",
     "last_failed_at", "run_id"}

A run *claims* the pending files first (atomic rename to ``articles.retrying-<pid>-<n>.jsonl``),
re-sends their records, and deletes a claimed file only when the run ends normally; a run that
dies leaves the claimed file behind and the next run claims it again. Operators may edit a
record in the file to fix it; the next run sends the edited record.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
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
        if not entries:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(e, ensure_ascii=False, default=str) + "\n" for e in entries)
        with self.pending_path.open("a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.write(lines)
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def entries(self, paths: Iterable[Path] | None = None) -> list[dict[str, Any]]:
        """The entries of some files (default: all), the latest one per doc_id."""
        latest: dict[str, dict[str, Any]] = {}
        for entry in _read_lines(self.files() if paths is None else paths):
            latest.pop(entry.get("doc_id", ""), None)
            latest[entry.get("doc_id", "")] = entry
        return list(latest.values())


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
