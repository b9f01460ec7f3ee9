"""Issue #18 item 6, the general rule: a site name before or after a separator, or a heading
that is the site's, never becomes the title, for every outlet and any separator.

These are constructed pages (the real ones are in test_old_layouts.py): every outlet of the
rules file plus an unknown site, every separator, the site name before, after or around the
headline, in ``<title>`` or ``og:title``, with the site's logo as the page's only ``h1``.
Headlines that hold a colon, a dash or the site's own name inside them stay whole.
"""

from __future__ import annotations

import html as html_lib
import itertools

import pytest

from enrich.extract import extract_page
from enrich.extract.rules import load_rules
from enrich.extract.title import site_key, strip_site_names

RULES = load_rules()
#: (outlet id or None, the name the page shows, an article URL on its host)
SITES = [
    (oid, rules.site_names[0] if rules.site_names else rules.name, f"https://{rules.hosts[0]}/a/1")
    for oid, rules in RULES.outlets.items()
    if rules.hosts and rules.name
] + [(None, "Steppe Daily News", "https://steppedaily.kz/news/2026/11/20/blast")]
SEPARATORS = ["»", "«", "|", "–", "—", "-", ":", "·", "•", "/", "~", "::", "›", "⁄"]
HEADLINES = [
    "Kazakhstan: Blasts Spark New Fears Over the Rise of Extremism",
    "Anti-Terror Law Passed in Astana - Officials",
    "Police Detain Three Men in Atyrau",
]
BODY = (
    "<p>Security services in Kazakhstan detained three men in Atyrau on Monday, officials said."
    " The men are suspected of planning attacks on police stations in the west of the country,"
    " according to a statement of the National Security Committee.</p>"
) * 3


def _page(url: str, site: str, *, title: str = "", og: str = "", heading: str = "") -> dict:
    meta = f'<meta property="og:title" content="{html_lib.escape(og)}">' if og else ""
    html = (
        f"<html lang='en'><head><title>{html_lib.escape(title)}</title>{meta}</head>"
        f"<body><div id='header'><h1 id='site-title'><a href='/'>{html_lib.escape(site)}</a>"
        f"</h1></div><div class='post'>{heading}<div class='entry'>{BODY}</div></div></body></html>"
    )
    return {"url": url, "html": html}


def _sites_for_unknown(url: str, site: str) -> str:
    """An unknown site names itself in og:site_name (what most pages do)."""
    return f'<meta property="og:site_name" content="{site}">'


CASES = list(itertools.product(SITES, SEPARATORS, ["before", "after", "both"]))


@pytest.mark.parametrize(
    ("site", "separator", "where"), CASES, ids=[f"{s[0]}-{sep}-{w}" for s, sep, w in CASES]
)
def test_site_name_around_a_separator_is_cut_from_the_title_element(
    site: tuple, separator: str, where: str
) -> None:
    outlet, name, url = site
    for headline in HEADLINES:
        parts = {
            "before": [name, headline],
            "after": [headline, name],
            "both": [name, headline, name],
        }[where]
        title = f" {separator} ".join(parts)
        page = _page(url, name, title=title)
        if outlet is None:
            page["html"] = page["html"].replace(
                "</head>", _sites_for_unknown(url, name) + "</head>"
            )
        record = extract_page(page)
        assert record["title"] == headline, (title, record["title"])


@pytest.mark.parametrize("site", SITES, ids=[str(s[0]) for s in SITES])
def test_og_title_with_the_site_name_and_a_site_heading(site: tuple) -> None:
    outlet, name, url = site
    headline = HEADLINES[0]
    page = _page(url, name, title=name, og=f"{headline} | {name}")
    if outlet is None:
        page["html"] = page["html"].replace("</head>", _sites_for_unknown(url, name) + "</head>")
    assert extract_page(page)["title"] == headline


@pytest.mark.parametrize("site", SITES, ids=[str(s[0]) for s in SITES])
def test_a_heading_that_is_the_site_never_wins(site: tuple) -> None:
    """Only the logo is an h1; the headline is an h2 with a title class, <title> is the site."""
    outlet, name, url = site
    headline = HEADLINES[2]
    page = _page(url, name, title=name, heading=f"<h2 class='post-title'>{headline}</h2>")
    if outlet is None:
        page["html"] = page["html"].replace("</head>", _sites_for_unknown(url, name) + "</head>")
    assert extract_page(page)["title"] == headline


def test_host_names_are_site_names() -> None:
    """globalvoicesonline.org reads as "Global Voices Online", rferl.org as "RFE/RL"."""
    page = _page(
        "http://globalvoicesonline.org/2009/06/11/x/",
        "Global Voices Online",
        title="Global Voices Online » China: A leaking dam?",
    )
    assert extract_page(page)["title"] == "China: A leaking dam?"
    assert site_key("RFE/RL") == site_key("rferl") == "rferl"
    assert site_key("The Moscow Times") == site_key("themoscowtimes")


def test_a_site_name_inside_a_headline_stays() -> None:
    keys = {site_key("The Moscow Times"), site_key("Global Voices")}
    assert strip_site_names("Moscow Times Editor Detained in Almaty", keys) == (
        "Moscow Times Editor Detained in Almaty"
    )
    assert strip_site_names("Atyrau | The Moscow Times | Global Voices", keys) == "Atyrau"
    assert strip_site_names("Kazakhstan: Blasts | Global Voices", keys) == "Kazakhstan: Blasts"
    assert strip_site_names("Global Voices", keys) == ""
