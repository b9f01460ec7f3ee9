"""Issue #13 item 7 at extraction: stored titles, authors, sections, captions and text carry no
bidi control or zero-width character, from any of the places a page can put them (the
outlet's title rule, ``<title>``, JSON-LD, meta tags, bylines, captions, paragraphs)."""

from __future__ import annotations

import json

import pytest

from enrich.extract import extract_page
from kzmon.textsafety import INVISIBLE

SPOOF = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f"
SPOOF += "\u2060\ufeff\u061c\u180e\u2062\u206b\ufffa\U000e0020"
BODY = (
    "Security services in Aty{s}rau detained three men on Monday, officials said. The men are"
    " suspected of planning attacks on police stations in the west of the country, according"
    " to a statement of the National Secu{s}rity Committee."
)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


@pytest.mark.parametrize(
    "outlet_url",
    [
        "https://www.themoscowtimes.com/2026/11/20/blast-a1",
        "https://example.org/news/1",
    ],
)
def test_no_invisible_character_reaches_the_record(outlet_url: str) -> None:
    s = SPOOF
    jsonld = json.dumps(
        {
            "@type": "NewsArticle",
            "headline": f"Blast{s} in Atyrau",
            "author": {"@type": "Person", "name": f"Ali{s}ya Ospanova"},
            "articleSection": f"Ne{s}ws",
            "datePublished": "2026-11-20T08:00:00+05:00",
        }
    )
    html = f"""<html lang="en"><head><title>Report{s}fdp.exe | The Moscow Times</title>
<meta name="description" content="Lead{s} text">
<meta name="author" content="Ali{s}ya Ospanova">
<meta property="article:section" content="Ne{s}ws">
<script type="application/ld+json">{jsonld}</script></head>
<body><article>
<header class="article__header"><h1>Report{s}fdp.exe in Aty\u200brau</h1>
<h2>Sub{s}title</h2></header>
<figure><img src="x.jpg"><figcaption>Photo{s} caption</figcaption></figure>
<p>{BODY.format(s=s)}</p><p>{BODY.format(s=s)} Again.</p><p>{BODY.format(s=s)} Third.</p>
</article></body></html>"""
    record = extract_page({"url": outlet_url, "html": html})
    assert "error" not in record, record
    for string in _strings(record):
        assert not INVISIBLE.search(string), (string[:80], record)
    assert record["title"] in {"Reportfdp.exe in Atyrau", "Blast in Atyrau"}
    assert "Atyrau" in record["text"] and "National Security Committee" in record["text"]
