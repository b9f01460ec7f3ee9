"""Fixtures of the extraction tests: helpers to run the CLI and to build outlet-like pages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def run_cli():
    """Run ``python -m enrich extract`` on raw stdin bytes; returns (rc, records, stderr)."""

    def _run(stdin: bytes, *args: str, env: dict | None = None) -> tuple[int, list[dict], str]:
        result = subprocess.run(
            [sys.executable, "-m", "enrich", "extract", *args],
            input=stdin,
            capture_output=True,
            cwd=REPO_ROOT,
            env=env,
            timeout=300,
            check=False,
        )
        records = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
        return result.returncode, records, result.stderr.decode("utf-8", "replace")

    return _run


@pytest.fixture(scope="session")
def samples(shared_dir: Path) -> dict[str, dict]:
    """The shared sample articles: manifest entries keyed by file stem, with their text."""
    manifest = json.loads((shared_dir / "samples" / "manifest.json").read_text(encoding="utf-8"))
    result = {}
    for entry in manifest:
        path = shared_dir / "samples" / entry["file"]
        result[path.stem] = {**entry, "text": path.read_text(encoding="utf-8")}
    return result
