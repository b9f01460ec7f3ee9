"""``python -m enrich tag``: one JSON object per input line, in order, errors per line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_cli_tags_lines_in_order_and_records_bad_lines() -> None:
    lines = [
        json.dumps(
            {"url": "https://a", "title": "Blast in Atyrau", "text": "Two blasts hit Atyrau."}
        ),
        "{not json",
        json.dumps(["a list"]),
        "",
        json.dumps({"url": "https://b", "title": 5, "text": "x"}),
        json.dumps(
            {
                "url": "https://c",
                "title": "Жарылыс",
                "text": "Ақтөбеде жарылыс болды.",
                "language": "kk",
            }
        ),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "enrich", "tag"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    assert out[0]["url"] == "https://a"
    assert [e["id"] for e in out[0]["entities"]] == ["place:atyrau"]
    assert out[0]["incident_types"] == ["bombing"]
    assert "taxonomy_version" in out[0] and "kz_security" in out[0]
    assert "error" in out[1] and "error" in out[2] and "error" in out[3]
    assert out[4]["url"] == "https://b" and "error" in out[4]
    assert out[5]["url"] == "https://c" and out[5]["entities"][0]["name"] == "Aktobe"
