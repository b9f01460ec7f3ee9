"""Issue #13 item 2 for the enrich task: damaged lines of a crawl batch are recorded, one error
each, and every good page still becomes an article (`kzmon.tasks.enrich`, what the DAG runs)."""

from __future__ import annotations

import json
from pathlib import Path

from kzmon.tasks import enrich

PAGE = """<html lang="en"><head><title>Blast in Atyrau {n}</title></head>
<body><article><h1>Blast in Atyrau {n}</h1>
<p>Two explosions hit the western Kazakh city of Atyrau on Monday, the National Security
Committee said. Jund al-Khilafah claimed responsibility for the blasts in a video {n}.</p>
<p>Police arrested three suspects in the Atyrau region after the attack, officials said,
and prosecutors opened a terrorism case against the group's local members.</p>
</article></body></html>"""

BAD_LINES = [
    b'{"url": "https://www.rferl.org/a/x/1.html", "html": "<p>caf\xe9</p>"}',
    b'{"url": "https://www.rferl.org/a/x/2.html", "html": "\xd0\xd0"}',
    b'{"url": "https://www.rferl.org/a/x/3.html", "html": "\xed\xa0\x80"}',
    '{"url": "https://www.rferl.org/a/x/4.html", "html": "Взрыв"}'.encode("cp1251"),
    b'{"url": "https://www.rferl.org/a/x/5.html", "html": "\\udc80"}',
    b'{"url": "https://www.rferl.org/a/x/6.html", "html": "cut',
    b'["not", "an", "object"]',
    b"42",
]


def test_enrich_task_records_each_bad_line_and_enriches_every_good_page(tmp_path: Path) -> None:
    good = [
        json.dumps({"url": f"https://www.rferl.org/a/blast/{n}.html", "html": PAGE.format(n=n)})
        for n in range(4)
    ]
    lines = [b"\xef\xbb\xbf" + good[0].encode()]
    for n, bad in enumerate(BAD_LINES):
        lines.append(bad)
        if n + 1 < len(good):
            lines.append(good[n + 1].encode())
    pages = tmp_path / "pages.jsonl"
    pages.write_bytes(b"\n".join(lines))  # no final newline: a truncated write

    out = enrich({"pages_path": str(pages)})

    assert (out["pages"], out["extracted"]) == (len(good) + len(BAD_LINES), len(good))
    assert out["extraction_failed"] == len(BAD_LINES)
    articles = [json.loads(x) for x in Path(out["articles_path"]).read_text("utf-8").splitlines()]
    assert sorted(a["title"] for a in articles) == [f"Blast in Atyrau {n}" for n in range(4)]
    errors = [json.loads(x) for x in Path(out["errors_path"]).read_text("utf-8").splitlines()]
    assert len(errors) == len(BAD_LINES)
    assert {e["stage"] for e in errors} == {"read"}
    numbers = [e["line"] for e in errors]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(BAD_LINES)
