"""Issue #13 item 2: a line that cannot be read stops nothing but itself.

The class of damaged lines a batch file can hold (bytes in another encoding, broken UTF-8
sequences, surrogates, control bytes, truncated JSON, JSON that is not an object) is mixed
with good records; `index_batch_file` and ``python -m kzmon.indexer index`` must index every
good record against the real Elasticsearch node and report each bad line with its number.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kzmon.indexer import index_batch_file
from kzmon.indexer.setup import ensure_setup
from kzmon.jsonl import iter_jsonl

pytestmark = pytest.mark.integration

#: Damaged lines, each with what is wrong with it (raw bytes, as a file would hold them).
BAD_LINES: dict[str, bytes] = {
    "latin-1 byte in a string": b'{"url": "https://example.org/caf\xe9", "title": "x"}',
    "invalid start byte": b'{"url": "https://example.org/a", "text": "\xff\xfe"}',
    "truncated multi-byte sequence": b'{"title": "\xd0"}',
    "overlong encoding of /": b'{"url": "https://example.org/\xc0\xaf"}',
    "UTF-8-encoded surrogate": b'{"title": "\xed\xa0\x80"}',
    "a whole cp1251 line": '{"title": "Взрыв в Атырау"}'.encode("cp1251"),
    "raw control byte in a string": b'{"title": "a\x00b"}',
    "lone surrogate escape": b'{"title": "broken \\ud800 text"}',
    "truncated JSON": b'{"url": "https://example.org/t", "title": "cut her',
    "JSON array": b"[1, 2, 3]",
    "JSON string": b'"just a string"',
    "JSON null": b"null",
}


def write_batch(path: Path, good: list[bytes], bad: list[bytes], *, bom: bool = True) -> Path:
    """Good and bad lines interleaved, CRLF endings on some, a BOM first, no final newline."""
    lines: list[bytes] = []
    for i, line in enumerate(good):
        lines.append(line + (b"\r\n" if i % 2 else b"\n"))
        if i < len(bad):
            lines.append(bad[i] + b"\n")
    lines.extend(b + b"\n" for b in bad[len(good) :])
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(lines)
    path.write_bytes(data.rstrip(b"\n"))
    return path


def test_every_damaged_line_is_one_error_and_every_good_line_is_read(tmp_path: Path) -> None:
    good = [
        json.dumps({"n": i, "text": "Атырау ✓ 😀"}, ensure_ascii=False).encode() for i in range(3)
    ]
    path = write_batch(tmp_path / "x.jsonl", good, list(BAD_LINES.values()))
    lines = list(iter_jsonl(path))
    objects = [line for line in lines if line.error is None and isinstance(line.value, dict)]
    assert [line.value["n"] for line in objects] == [0, 1, 2]
    bad = [line for line in lines if line not in objects]
    assert len(bad) == len(BAD_LINES)
    assert all(line.number > 0 for line in bad)
    undecodable = [line for line in bad if line.error and line.error.startswith("not UTF-8")]
    assert len(undecodable) == 6
    assert "\\xe9" in undecodable[0].text  # the bad byte stays visible in the recorded text


def test_index_batch_file_indexes_the_good_records_around_bad_lines(
    es, prefix, make_record, dead_letter_dir, tmp_path: Path
) -> None:
    ensure_setup(es)
    good = [json.dumps(make_record(i), ensure_ascii=False).encode() for i in range(8)]
    path = write_batch(tmp_path / "articles.jsonl", good, list(BAD_LINES.values()))
    result = index_batch_file(path, es=es, dead_letter_dir=dead_letter_dir, refresh=True)
    assert result.indexed == 8
    assert (result.failed, result.unreadable) == (len(BAD_LINES), len(BAD_LINES))
    assert {e["error"] for e in result.errors} == {"unreadable_line"}
    assert all(e["source"].startswith(f"{path}:") for e in result.errors)
    assert es.count(index=f"{prefix}-articles")["count"] == 8


def test_cli_index_reports_bad_lines_and_indexes_the_rest(
    es, prefix, make_record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m kzmon.indexer index``: exit 1 (this input had failures), good lines indexed."""
    monkeypatch.setenv("KZMON_DATA_DIR", str(tmp_path / "data"))
    ensure_setup(es)
    good = [json.dumps(make_record(i)).encode() for i in range(5)]
    path = write_batch(tmp_path / "articles.jsonl", good, list(BAD_LINES.values())[:6])
    done = subprocess.run(
        [sys.executable, "-m", "kzmon.indexer", "index", str(path)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["indexed"], summary["failed"], summary["unreadable"]) == (5, 6, 6)
    assert "UnicodeDecodeError" not in done.stderr
    es.indices.refresh(index=f"{prefix}-articles")
    assert es.count(index=f"{prefix}-articles")["count"] == 5
