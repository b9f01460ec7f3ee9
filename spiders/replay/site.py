"""The offline replay's content: every outlet's feeds, sitemaps, listings and article pages.

`load_site()` reads the article data (`articles.yaml`, the real samples in ``../shared``) and
the dirt cases (`dirt.yaml`) and answers `response_for(url)` for the outlets' REAL URLs with the
bytes the outlet would serve, rendered from the Jinja templates in ``templates/``. The HTTP
server (`server.py`) and the extraction tests use it; nothing here does network I/O.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kzmon.settings import REPO_ROOT
from spiders.registry import get_outlet
from spiders.replay.routes import DISCOVERY, RFERL_FAMILY

LOGGER = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ARTICLES_PATH = HERE / "articles.yaml"
DIRT_PATH = HERE / "dirt.yaml"
#: Every article and dirt file, read in this order (issue #17's outlets have their own).
ARTICLE_FILES = (ARTICLES_PATH, HERE / "articles_kz.yaml")
DIRT_FILES = (DIRT_PATH, HERE / "dirt_kz.yaml")
TEMPLATES = HERE / "templates"

#: The date feeds and sitemaps give the dirt URLs.
DIRT_DATE = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)

_HTML = "text/html; charset=utf-8"
_RSS = "application/rss+xml; charset=utf-8"
_XML = "application/xml; charset=utf-8"
_GZIP = "application/x-gzip"
_SENTENCE_END = re.compile(r"(?<=[.!?…])[»”\"]?\s+(?=[«“\"A-ZА-ЯЁӘІҢҒҮҰҚӨҺ0-9])")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(#\)")


def default_shared_dir() -> Path:
    """``$KZMON_SHARED_DIR``, else the ``shared`` folder beside the repository."""
    return Path(os.environ.get("KZMON_SHARED_DIR") or REPO_ROOT.parent / "shared")


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences (good enough for the golden first/last sentence)."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


@dataclass(frozen=True)
class ReplayResponse:
    """What the replay answers for one URL."""

    status: int
    headers: dict[str, str]
    body: bytes
    delay: float = 0.0


@dataclass(frozen=True)
class ReplayArticle:
    """One article page of the replay and the metadata an extractor should find on it."""

    id: str
    outlet: str
    url: str
    title: str
    published: datetime
    language: str
    authors: tuple[str, ...]
    paragraphs: tuple[str, ...]
    noise: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()
    subtitle: str | None = None
    section: str | None = None
    publication: str | None = None
    volume: int | None = None
    issue: int | None = None
    security: bool = False
    sample: str | None = None
    first_sentence: str = ""
    last_sentence: str = ""

    @property
    def text_paragraphs(self) -> list[str]:
        """The body paragraphs an extractor should keep (noise and markup residue removed)."""
        return [_MD_LINK.sub(r"\1", p) for p in self.paragraphs if p not in self.noise]

    @property
    def path(self) -> str:
        """The URL's path (and query)."""
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def expected(self) -> dict:
        """The metadata extraction should produce for this page (golden values)."""
        return {
            "url": self.url,
            "outlet": self.outlet,
            "title": self.title,
            "subtitle": self.subtitle,
            "published": self.published.isoformat(),
            "authors": list(self.authors),
            "language": self.language,
            "section": self.section,
            "publication": self.publication,
            "volume": self.volume,
            "issue": self.issue,
            "first_sentence": self.first_sentence,
            "last_sentence": self.last_sentence,
            "security": self.security,
        }


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def _sample_parts(entry: dict, shared_dir: Path) -> tuple[list[str], list[str]]:
    """Body paragraphs and comment-section paragraphs of a real sample article."""
    path = shared_dir / "samples" / entry["sample"]
    paragraphs = _paragraphs(path.read_text(encoding="utf-8"))
    strip = {" ".join(s.split()) for s in entry.get("strip", [])}
    title_seen = False
    body: list[str] = []
    for para in paragraphs:
        if not title_seen and para == entry["title"]:
            title_seen = True
            continue
        if para not in strip:
            body.append(para)
    marker = entry.get("comments_from")
    if marker and marker in body:
        cut = body.index(marker)
        return body[:cut], body[cut:]
    return body, []


def _build_article(entry: dict, shared_dir: Path) -> ReplayArticle:
    if entry.get("sample"):
        body, comments = _sample_parts(entry, shared_dir)
    else:
        body, comments = _paragraphs(entry["body"]), []
    noise = tuple(" ".join(n.split()) for n in entry.get("noise", []))
    text = [_MD_LINK.sub(r"\1", p) for p in body if p not in noise]
    first = entry.get("first_sentence") or split_sentences(text[0])[0]
    last = entry.get("last_sentence") or split_sentences(text[-1])[-1]
    return ReplayArticle(
        id=entry["id"],
        outlet=entry["outlet"],
        url=entry["url"],
        title=entry["title"],
        subtitle=entry.get("subtitle"),
        section=entry.get("section"),
        published=datetime.fromisoformat(entry["published"]),
        language=entry["language"],
        authors=tuple(entry.get("authors") or ()),
        paragraphs=tuple(body),
        noise=noise,
        comments=tuple(comments),
        publication=entry.get("publication"),
        volume=entry.get("volume"),
        issue=entry.get("issue"),
        security=bool(entry.get("security")),
        sample=entry.get("sample"),
        first_sentence=first,
        last_sentence=last,
    )


@dataclass(frozen=True)
class DirtPage:
    """An extra URL of the replay that is not a clean article (see dirt.yaml)."""

    url: str
    kind: str
    outlet: str
    listed: bool = False
    target: str | None = None
    title: str | None = None
    size_mib: float = 0


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:20] + '"'


def _not_modified(request_headers: dict[str, str], etag: str, last_modified: datetime) -> bool:
    lowered = {k.lower(): v for k, v in request_headers.items()}
    if "if-none-match" in lowered:
        return etag in [tag.strip() for tag in lowered["if-none-match"].split(",")]
    since = lowered.get("if-modified-since")
    if not since:
        return False
    try:
        return last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def conditional(
    response: ReplayResponse,
    last_modified: datetime,
    request_headers: dict[str, str],
    *,
    etag: str | None = None,
) -> ReplayResponse:
    """Add ETag/Last-Modified; answer 304 when the client's copy is current."""
    etag = etag or _etag(response.body)
    headers = {
        **response.headers,
        "ETag": etag,
        "Last-Modified": format_datetime(last_modified.astimezone(UTC), usegmt=True),
    }
    if _not_modified(request_headers, etag, last_modified):
        return ReplayResponse(304, {"ETag": etag, "Last-Modified": headers["Last-Modified"]}, b"")
    return ReplayResponse(response.status, headers, response.body, response.delay)


@dataclass
class ReplaySite:
    """Every outlet's replayed site, addressed by real URLs."""

    articles: list[ReplayArticle]
    dirt: list[DirtPage]
    robots: dict[str, str]
    slow: dict[str, float]
    malformed_feeds: set[str]
    quiet_outlets: frozenset[str] = frozenset()
    rate_limited: dict[str, float] = field(default_factory=dict)
    #: Articles per sitemap part of the paginated sitemaps (0: the routes' own small default).
    part_size: int = 0
    #: Articles in a news or "latest" sitemap (0: the routes' own small default).
    latest_count: int = 0
    _env: Environment = field(init=False, repr=False)
    _by_url: dict[str, ReplayArticle] = field(init=False, repr=False)
    _by_outlet: dict[str, list[ReplayArticle]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html", "xml"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["rfc822"] = lambda d: format_datetime(d)
        self._env.filters["linkify"] = _linkify
        self._env.globals["utc"] = UTC
        self._by_url = {_strip_slash(a.url): a for a in self.articles}
        self._by_outlet = {}
        for article in sorted(self.articles, key=lambda a: a.published, reverse=True):
            self._by_outlet.setdefault(article.outlet, []).append(article)

    # ------------------------------------------------------------------ public API
    def article_urls(self, outlet_id: str | None = None) -> list[str]:
        """Real URLs of the clean article pages (of one outlet, or all), each once."""
        return [a.url for a in self.articles if outlet_id in (None, a.outlet)]

    def article(self, url: str) -> ReplayArticle:
        """The article served at this URL; `KeyError` if none."""
        return self._by_url[_strip_slash(url)]

    def outlet_articles(self, outlet_id: str, *, listed: bool = True) -> list[ReplayArticle]:
        """An outlet's articles, newest first (none for a quiet outlet's listings)."""
        if listed and outlet_id in self.quiet_outlets:
            return []
        return list(self._by_outlet.get(outlet_id, ()))

    def response_for(self, url: str, headers: dict[str, str] | None = None) -> ReplayResponse:
        """The response the outlet would give for this real URL (404 when unknown)."""
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path or "/"
        request_headers = headers or {}
        if path == "/robots.txt" and host in self.robots:
            return ReplayResponse(
                200, {"Content-Type": "text/plain; charset=utf-8"}, self.robots[host].encode()
            )
        special = self._dirt_response(url)
        if special is not None:
            return special
        article = self._by_url.get(_strip_slash(f"https://{host}{path}"))
        if article is not None:
            return self._article_response(article, request_headers)
        rendered = self._discovery_response(host, path, parse_qs(parts.query))
        if rendered is not None:
            response, last_modified = rendered
            return conditional(response, last_modified, request_headers)
        return self._not_found(host)

    # ------------------------------------------------------------------ rendering
    def _render(self, template: str, **context: object) -> bytes:
        return self._env.get_template(template).render(site=self, **context).encode("utf-8")

    def _not_found(self, host: str) -> ReplayResponse:
        body = self._render("not_found.html", host=host)
        return ReplayResponse(404, {"Content-Type": _HTML}, body)

    def _article_response(
        self, article: ReplayArticle, request_headers: dict[str, str]
    ) -> ReplayResponse:
        return self.render_article(article, request_headers)

    def render_article(
        self, article: ReplayArticle, request_headers: dict[str, str]
    ) -> ReplayResponse:
        """An article page in its outlet's markup (conditional requests answered)."""
        family = "rferl" if article.outlet in RFERL_FAMILY else article.outlet
        outlet = get_outlet(article.outlet)
        body = self._render(f"article_{family}.html", a=article, outlet=outlet)
        response = ReplayResponse(
            200, {"Content-Type": _HTML}, body, delay=self.slow.get(article.id, 0.0)
        )
        return conditional(response, article.published, request_headers)

    def _dirt_response(self, url: str) -> ReplayResponse | None:
        for page in self.dirt:
            if page.url != url and _strip_slash(page.url) != _strip_slash(url):
                continue
            return self._render_dirt(page)
        return None

    def _render_dirt(self, page: DirtPage) -> ReplayResponse:
        if page.kind == "redirect":
            target = self._article_by_id(page.target)
            return ReplayResponse(301, {"Location": target.url, "Content-Type": _HTML}, b"")
        if page.kind in {"amp", "tracking"}:
            target = self._article_by_id(page.target)
            name = "amp_rferl.html" if page.kind == "amp" else None
            if name is None:
                return self._article_response(target, {})
            return ReplayResponse(200, {"Content-Type": _HTML}, self._render(name, a=target))
        if page.kind == "pdf":
            return ReplayResponse(200, {"Content-Type": "application/pdf"}, _tiny_pdf(page.title))
        if page.kind == "large":
            return ReplayResponse(200, {"Content-Type": _HTML}, self._large_page(page))
        return self._not_found(urlsplit(page.url).hostname or "")

    def _large_page(self, page: DirtPage) -> bytes:
        head = self._render("large.html", page=page)
        filler = b'<img src="data:image/png;base64,' + b"iVBORw0KGgo" * 4000 + b'" alt="">\n'
        target = int(page.size_mib * 1024 * 1024)
        repeats = max(1, target // len(filler) + 1)
        return head.replace(b"<!--FILLER-->", filler * repeats)

    def _article_by_id(self, article_id: str | None) -> ReplayArticle:
        for article in self.articles:
            if article.id == article_id:
                return article
        raise KeyError(f"dirt.yaml names unknown article {article_id!r}")

    #: Publication date shown for dirt URLs in feeds and sitemaps.
    dirt_date = DIRT_DATE

    def dirt_title(self, page: DirtPage) -> str:
        """The title a feed shows for a dirt URL (its target article's, if any)."""
        if page.target:
            return self._article_by_id(page.target).title
        return page.title or "Untitled"

    def listed_dirt(self, outlet_id: str) -> list[DirtPage]:
        """Dirt URLs shown in the outlet's main discovery document."""
        if outlet_id in self.quiet_outlets:
            return []
        return [d for d in self.dirt if d.outlet == outlet_id and d.listed]

    def _discovery_response(
        self, host: str, path: str, query: dict[str, list[str]]
    ) -> tuple[ReplayResponse, datetime] | None:
        for outlet_id, renderer in DISCOVERY.items():
            if get_outlet(outlet_id).owns_url(f"https://{host}/"):
                return renderer(self, outlet_id, path, query)
        return None

    def last_modified(self, articles: Iterable[ReplayArticle]) -> datetime:
        """Newest publication date of these articles (a fixed old date when there are none)."""
        dates = [a.published for a in articles]
        return max(dates) if dates else datetime(2010, 1, 1, tzinfo=UTC)

    def feed(
        self, outlet_id: str, articles: list[ReplayArticle], **channel: object
    ) -> tuple[ReplayResponse, datetime]:
        """An RSS 2.0 feed of these articles (and the outlet's listed dirt)."""
        dirt = self.listed_dirt(outlet_id) if channel.pop("with_dirt", False) else []
        body = self._render(f"feed_{outlet_id}.xml", articles=articles, dirt=dirt, channel=channel)
        if channel.get("self_url") in self.malformed_feeds:
            body = _break_feed(body)
        last = self.last_modified(articles)
        return ReplayResponse(200, {"Content-Type": _RSS}, body), last

    def xml(
        self, template: str, last_modified: datetime, *, gz: bool = False, **context: object
    ) -> tuple[ReplayResponse, datetime]:
        """A sitemap (optionally gzipped, as RFE/RL serves its parts)."""
        body = self._render(template, **context)
        if gz:
            return ReplayResponse(200, {"Content-Type": _GZIP}, gzip.compress(body, mtime=0)), (
                last_modified
            )
        return ReplayResponse(200, {"Content-Type": _XML}, body), last_modified

    def html(
        self, template: str, articles: list[ReplayArticle], **context: object
    ) -> tuple[ReplayResponse, datetime]:
        """A listing page."""
        body = self._render(template, articles=articles, **context)
        return ReplayResponse(200, {"Content-Type": _HTML}, body), self.last_modified(articles)


def _strip_slash(url: str) -> str:
    return url[:-1] if url.endswith("/") else url


def _linkify(text: str) -> str:
    from markupsafe import Markup, escape

    return Markup(_MD_LINK.sub(r'<a href="#">\1</a>', str(escape(text))))


def _break_feed(body: bytes) -> bytes:
    """Make a feed malformed the way real ones are: raw ampersands, an unclosed channel."""
    broken = body.replace(b"&amp;", b"&").replace(b"</channel>", b"")
    return broken.replace(b"</rss>", b"<item><title>Broken & truncated")


def _tiny_pdf(title: str | None) -> bytes:
    text = (title or "document").encode("latin-1", "replace")
    return b"%PDF-1.4\n% " + text + b"\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def _article_url(articles: list[ReplayArticle], article_id: str) -> str:
    for article in articles:
        if article.id == article_id:
            return article.url
    raise KeyError(f"dirt.yaml names unknown article {article_id!r}")


def _outlet_of(url: str) -> str:
    host = urlsplit(url).hostname or ""
    for outlet_id in DISCOVERY:
        if host in get_outlet(outlet_id).allowed_domains:
            return outlet_id
    raise ValueError(f"no outlet serves {url}")


def _merged_yaml(paths: Iterable[Path]) -> dict:
    """The files' top-level lists concatenated and mappings merged, in file order."""
    merged: dict = {}
    for path in paths:
        for key, value in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if isinstance(value, list):
                merged[key] = [*merged.get(key, []), *value]
            elif isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return merged


def load_site(shared_dir: Path | None = None, quiet_outlets: Iterable[str] = ()) -> ReplaySite:
    """Load the replay's articles (rendering the real samples from ``shared_dir``) and dirt.

    ``quiet_outlets`` serve feeds, sitemaps and listings without any article, as if the
    outlet had stopped publishing (their article pages stay reachable).
    """
    from spiders.replay.generated import requested_articles

    generated = requested_articles()
    if generated:
        return _generated_site(generated, quiet_outlets)
    shared = Path(shared_dir) if shared_dir else default_shared_dir()
    data = _merged_yaml(ARTICLE_FILES)
    dirt = _merged_yaml(DIRT_FILES)
    articles = [_build_article(entry, shared) for entry in data["articles"]]
    pages = [
        DirtPage(**{"outlet": p.get("outlet") or _outlet_of(p["url"]), **p})
        for p in dirt.get("pages", [])
    ]
    return ReplaySite(
        articles=articles,
        dirt=pages,
        robots=dict(dirt.get("robots", {})),
        slow={k: float(v) for k, v in (dirt.get("slow") or {}).items()},
        malformed_feeds=set(dirt.get("malformed_feeds", [])),
        quiet_outlets=frozenset(quiet_outlets),
        rate_limited={
            _article_url(articles, k): float(v) for k, v in (dirt.get("rate_limited") or {}).items()
        },
    )


def _generated_site(n: int, quiet_outlets: Iterable[str]) -> ReplaySite:
    """The generated replay of ``n`` articles (`spiders.replay.generated`): the outlets'
    robots.txt as in the default replay, no dirt pages, sitemap parts of realistic size, and
    news/latest sitemaps that list every article (all of them are new since the last run)."""
    from spiders.replay.generated import PART_SIZE, generate_articles

    dirt = _merged_yaml(DIRT_FILES)
    return ReplaySite(
        articles=generate_articles(n),
        dirt=[],
        robots=dict(dirt.get("robots", {})),
        slow={},
        malformed_feeds=set(),
        quiet_outlets=frozenset(quiet_outlets),
        part_size=PART_SIZE,
        latest_count=n,
    )
