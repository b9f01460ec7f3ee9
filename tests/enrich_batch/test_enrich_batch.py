"""enrich_batch over a crawl batch with good and bad pages: each bad page is one recorded error."""

from __future__ import annotations

import json
from pathlib import Path

from enrich.batch import enrich_batch

GOOD = """<html lang="en"><head><title>Blast in Atyrau</title>
<meta property="article:published_time" content="2011-10-31T10:00:00+05:00"></head>
<body><article><h1>Blast in Atyrau</h1>
<p>Two explosions hit the western Kazakh city of Atyrau on Monday, the National Security
Committee said. Jund al-Khilafah claimed responsibility for the blasts in a video.</p>
<p>Police arrested three suspects in the Atyrau region after the attack, officials said,
and prosecutors opened a terrorism case against the group's local members.</p>
</article></body></html>"""


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_good_pages_become_tagged_articles_and_bad_ones_recorded(tmp_path: Path) -> None:
    url = "https://www.rferl.org/a/blast-atyrau/1.html"
    pages = _write(
        tmp_path / "pages.jsonl",
        [
            json.dumps({"url": url, "canonical_url": url, "outlet": "rferl", "html": GOOD}),
            "{not json",
            json.dumps({"url": "https://www.rferl.org/a/empty/2.html", "html": ""}),
            json.dumps({"url": "https://www.rferl.org/a/pdf/3.html", "html": "%PDF-1.4\x00\x01"}),
        ],
    )
    result = enrich_batch(pages)
    assert (result.pages, result.extracted, result.extraction_failed) == (4, 1, 3)
    [article] = [json.loads(x) for x in Path(result.articles_path).read_text().splitlines()]
    assert article["title"] == "Blast in Atyrau"
    assert "place:atyrau" in {e["id"] for e in article["entities"]}
    assert article["kz_security"]["relevant"] is True
    errors = [json.loads(x) for x in Path(result.errors_path).read_text().splitlines()]
    assert len(errors) == 3 and all(e["error"] for e in errors)
    assert errors[0]["stage"] == "read"


def test_rerun_rewrites_the_same_output(tmp_path: Path) -> None:
    url = "https://www.rferl.org/a/blast-atyrau/1.html"
    pages = _write(tmp_path / "pages.jsonl", [json.dumps({"url": url, "html": GOOD})])
    first = Path(enrich_batch(pages).articles_path).read_text()
    second = Path(enrich_batch(pages).articles_path).read_text()
    assert first == second
    assert not list(tmp_path.glob("*.tmp"))
