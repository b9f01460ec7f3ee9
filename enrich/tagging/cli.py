"""``python -m enrich tag``: JSON lines ``{"url", "title", "text"}`` in, the same with tags out.

Exactly one output line per input line, in order. A line that is not a JSON object, or whose
``title``/``text`` are not strings, gets ``"error"`` and the run goes on. Exit 0 unless stdin
cannot be read.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TextIO

from enrich.tagging.tagger import Tagger, get_tagger

LOGGER = logging.getLogger(__name__)


def tag_line(line: str, tagger: Tagger) -> dict:
    """Tag one JSON line; bad input gives ``{"error": ...}`` (with ``url`` when known)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"error": f"invalid JSON: {exc.msg}"}
    if not isinstance(record, dict):
        return {"error": "not a JSON object"}
    for key in ("title", "text"):
        if record.get(key) is not None and not isinstance(record[key], str):
            return {**record, "error": f"{key} is not a string"}
    if not (record.get("text") or record.get("title")):
        return {**record, "error": "no title or text"}
    return {**record, **tagger.tag(record)}


def run(stdin: TextIO, stdout: TextIO) -> int:
    """Tag every line of ``stdin`` to ``stdout``; return the number of errors."""
    tagger = get_tagger()
    errors = 0
    for line in stdin:
        if not line.strip():
            out: dict = {"error": "empty line"}
        else:
            out = tag_line(line, tagger)
        errors += "error" in out
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return errors


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m enrich tag``."""
    parser = argparse.ArgumentParser(prog="python -m enrich tag", description=__doc__)
    parser.parse_args(argv or [])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    stdin = sys.stdin
    stdin.reconfigure(encoding="utf-8", errors="replace")
    try:
        errors = run(stdin, sys.stdout)
    except OSError as exc:
        LOGGER.error("cannot read stdin: %s", exc)
        return 1
    if errors:
        LOGGER.warning("%d line(s) had errors", errors)
    return 0
