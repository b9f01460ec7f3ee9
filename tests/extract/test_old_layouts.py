"""Issue #18 item 6: article metadata on the outlets' older layouts, on real pages.

``old_layouts/goldens.yaml`` lists real pages saved by public repositories (each with its
source and sha256) and what extraction must find: the exact title, the publication time,
the authors, and where the text starts and ends. Before the site-name rule every one of the
fifteen Global Voices 2009 pages got the title "Global Voices Online". The titles must also
come out right with the outlet rules switched off: the rule that keeps site names out of
titles is general, not a per-outlet XPath.
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from enrich.extract import ExtractOptions, extract_page

HERE = Path(__file__).resolve().parent / "old_layouts"
PAGES = yaml.safe_load((HERE / "goldens.yaml").read_text("utf-8"))["pages"]
SITE_NAMES = ("Global Voices", "RFE/RL", "Radio Free Europe", "RadioFreeEurope")
#: Page furniture of these layouts that is not article text.
CHROME = (
    "Post-Thumbnail",
    "copy this link",
    "Share this article",
    "Posted by",
    "Print version",
    "have collaborated with this post",
    "TEXT SIZE",
    "Related Articles",
)


def _html(page: dict) -> str:
    raw = gzip.decompress((HERE / page["file"]).read_bytes())
    assert hashlib.sha256(raw).hexdigest() == page["source"]["sha256"]  # the copy is exact
    return raw.decode("utf-8")


@pytest.fixture(scope="module")
def records() -> dict[str, tuple[dict, dict]]:
    return {p["file"]: (p, extract_page({"url": p["url"], "html": _html(p)})) for p in PAGES}


@pytest.mark.parametrize("file", [p["file"] for p in PAGES])
def test_title_date_authors_and_text_are_right(records: dict, file: str) -> None:
    page, record = records[file]
    assert "error" not in record, record
    assert record["outlet"] == page["outlet"]
    assert record["title"] == page["title"]
    assert datetime.fromisoformat(record["published_at"]) == datetime.fromisoformat(
        page["published"]
    )
    assert record["authors"] == page["authors"]
    assert record["text"].startswith(page["first_sentence"])
    assert record["text"].endswith(page["last_sentence"])
    for chrome in CHROME:
        assert chrome not in record["text"], chrome


@pytest.mark.parametrize("file", [p["file"] for p in PAGES])
def test_the_title_rule_needs_no_outlet_rules(file: str) -> None:
    page = next(p for p in PAGES if p["file"] == file)
    record = extract_page(
        {"url": page["url"], "html": _html(page)}, ExtractOptions(apply_rules=False)
    )
    assert record["title"] == page["title"]
    assert not any(record["title"].startswith(name) for name in SITE_NAMES)


def test_every_layout_page_has_a_different_title(records: dict) -> None:
    """The original bug: one title (the site's name) for every page of a layout."""
    titles = [record["title"] for _, record in records.values()]
    assert len(set(titles)) == len(titles)


def test_global_voices_2019_layout_from_the_shared_folder(shared_dir: Path) -> None:
    """The real German-edition page of ../shared/outlets/html (read there, not copied), with
    trafilatura's own annotation of it as the truth (title, date, author, text snippets)."""
    folder = shared_dir / "outlets" / "html" / "globalvoices"
    truth = yaml.safe_load(
        (folder / "de.globalvoices.org.nicaragua.trafilatura-annotation.json").read_text("utf-8")
    )
    html = (folder / truth["file"]).read_text("utf-8")
    record = extract_page({"url": truth["url"], "html": html})
    assert record["title"] == truth["title"]
    assert record["published_at"].startswith(truth["date"])
    assert record["authors"] == [truth["author"]]
    assert record["language"] == "de"
    assert all(snippet in record["text"] for snippet in truth["with"])
    assert not any(snippet in record["text"] for snippet in truth["without"])
