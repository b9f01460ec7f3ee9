"""A static route set: directories of real files served the way a static web server does.

``StaticRoutes([root, ...])`` answers ``https://<host>/<path>`` with ``<root>/<host>/<path>``
(the first root that has the file wins), with an ETag made of the file's mtime and size and a
Last-Modified of its mtime, as nginx sends them, and 304 for a matching conditional request.
The tests serve ``../shared/outlets/feeds/rferl-full/`` this way (read in place, never
copied), and simulate a site that changed by putting a modified copy of one file in a
temporary root listed first.

The real files are sitemaps only; for an article URL of a served host that is not a file the
routes render a synthetic article page (`synthetic_article`), so crawls of the real sitemaps
fetch something that looks like the outlet's pages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from spiders.registry import load_outlets
from spiders.replay.site import ReplayArticle, ReplayResponse, ReplaySite, conditional

LOGGER = logging.getLogger(__name__)

_TYPES = {".gz": "application/x-gzip", ".xml": "application/xml; charset=utf-8"}
#: Two (article id, publication date) points of the RFE/RL sites (from their video sitemaps),
#: between which a synthetic page's date is interpolated from its numeric id.
_ID_DATES = (
    (1833736, datetime(2008, 8, 20, tzinfo=UTC)),
    (33423632, datetime(2025, 5, 25, tzinfo=UTC)),
)
_ID = re.compile(r"(\d{5,})\.html$")


def id_date(url: str) -> datetime:
    """The publication date a synthetic page shows: interpolated from the URL's numeric id
    (RFE/RL ids grow with time), clamped to 2001-01-01 .. the newest point."""
    match = _ID.search(urlsplit(url).path)
    (id0, d0), (id1, d1) = _ID_DATES
    if not match:
        return d0
    fraction = (int(match.group(1)) - id0) / (id1 - id0)
    when = d0 + timedelta(seconds=fraction * (d1 - d0).total_seconds())
    return min(max(when, datetime(2001, 1, 1, tzinfo=UTC)), d1)


def synthetic_article(url: str, outlet_id: str, language: str) -> ReplayArticle:
    """A stand-in article page for a real URL whose page is not in the replay."""
    path = urlsplit(url).path
    slug = path.rsplit("/", 2)[-2] if path.count("/") >= 3 else ""
    words = [w for w in re.split(r"[-_]+", slug) if w and not w.isdigit()]
    title = " ".join(words).capitalize() if words else f"Article {path.rsplit('/', 1)[-1]}"
    body = (
        f"This synthetic page stands in for {url}, whose real page the replay does not hold.",
        "The crawl fetched it through the outlet's real sitemaps, as it would on the live site.",
    )
    return ReplayArticle(
        id=f"synthetic:{path}",
        outlet=outlet_id,
        url=url,
        title=title,
        published=id_date(url),
        language=language,
        authors=(),
        paragraphs=body,
        section="News",
    )


class StaticRoutes:
    """Files under one or more roots, plus synthetic article pages for their hosts."""

    def __init__(self, roots: Sequence[Path], site: ReplaySite) -> None:
        self.roots = [Path(root) for root in roots]
        self.site = site
        self.hosts = {p.name for root in self.roots if root.is_dir() for p in root.iterdir()}

    def response_for(self, url: str, headers: dict[str, str]) -> ReplayResponse | None:
        """The file (or synthetic page) for this URL; None when the host is not served."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host not in self.hosts:
            return None
        relative = unquote(parts.path or "/").lstrip("/")
        if ".." in Path(relative).parts:
            return None
        for root in self.roots:
            path = root / host / relative
            if relative and path.is_file():
                return self._file(path, headers)
        return self._synthetic(url, host, headers)

    def _file(self, path: Path, headers: dict[str, str]) -> ReplayResponse:
        stat = path.stat()
        modified = datetime.fromtimestamp(int(stat.st_mtime), tz=UTC)
        etag = f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'
        content_type = _TYPES.get(path.suffix, "application/octet-stream")
        response = ReplayResponse(200, {"Content-Type": content_type}, path.read_bytes())
        return conditional(response, modified, headers, etag=etag)

    def _synthetic(self, url: str, host: str, headers: dict[str, str]) -> ReplayResponse | None:
        try:
            return self.site.render_article(self.site.article(url), headers)
        except KeyError:
            pass  # not one of the replay's own articles
        for outlet in load_outlets():
            if host in outlet.allowed_domains and outlet.is_article_url(url):
                article = synthetic_article(url, outlet.id, outlet.languages[0])
                return self.site.render_article(article, headers)
        return None
