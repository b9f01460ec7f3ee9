"""Route sets: extra URLs the replay serves when a test switches them on (data in YAML).

A route set file (``<name>.yaml`` in this folder; format in ``hostile.yaml``'s header) names a
host and its cases; `load_route_set` turns it into `RouteSet`, which answers the cases' URLs
and the three discovery documents that list them (``/sitemap.xml``, ``/sitemap_articles.xml``,
``/feed.xml``). The cases and their expected outcomes stay in the data file, so adding a case
is a few lines of YAML; `RouteSet.expectations` hands them to the tests.
"""

from __future__ import annotations

import gzip
import html
import logging
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from spiders.replay.site import ReplayResponse, conditional

LOGGER = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
#: Stand-in for a URL longer than any crawler should request (> 2,083 characters).
LONG = "x" * 3000
_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_DATE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
_XML = "application/xml; charset=utf-8"
_GZIP = "application/x-gzip"
_HTML = "text/html; charset=utf-8"


def route_set_path(name: str) -> Path:
    """The data file of a route set."""
    path = HERE / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(f"no route set {name!r} in {HERE}")
    return path


def outlets_file(name: str) -> Path | None:
    """The registry file of the route set's outlet, if it has one (for KZMON_EXTRA_OUTLETS)."""
    path = HERE / f"{name}_outlet.yaml"
    return path if path.is_file() else None


@dataclass(frozen=True)
class Case:
    """One URL of a route set."""

    url: str
    path: str
    listed_in: str
    serve: dict[str, Any]
    expect: str | None = None
    also_expect: dict[str, str] = field(default_factory=dict)
    never_requested: tuple[str, ...] = ()


class RouteSet:
    """The cases of one route set, served for its host."""

    def __init__(self, name: str, data: dict[str, Any], replay_url: str) -> None:
        self.name = name
        self.host = data["host"]
        self.robots = data.get("robots", "User-agent: *\nAllow: /\n")
        self.replay_url = replay_url.rstrip("/")
        self.cases = [self._case(raw) for raw in data["cases"]]
        self._by_path = {case.path: case for case in self.cases}
        self._cache: dict[str, bytes] = {}

    def _fill(self, text: str) -> str:
        return text.replace("{replay}", self.replay_url).replace("{long}", LONG)

    def _absolute(self, target: str) -> str:
        target = self._fill(target)
        return f"https://{self.host}{target}" if target.startswith("/") else target

    def _case(self, raw: dict[str, Any]) -> Case:
        path = self._fill(raw["path"])
        return Case(
            url=f"https://{self.host}{path}",
            path=path,
            listed_in=raw.get("listed_in", "none"),
            serve=raw["serve"],
            expect=raw.get("expect"),
            also_expect={self._absolute(k): v for k, v in (raw.get("also_expect") or {}).items()},
            never_requested=tuple(self._absolute(p) for p in raw.get("never_requested") or ()),
        )

    # ------------------------------------------------------------------ serving
    def response_for(self, url: str, headers: dict[str, str]) -> ReplayResponse | None:
        """The answer for a URL of the route set's host (None for other hosts)."""
        parts = urlsplit(url)
        if parts.hostname != self.host:
            return None
        path = parts.path or "/"
        if path == "/robots.txt":
            return ReplayResponse(200, {"Content-Type": "text/plain"}, self.robots.encode())
        listing = self._listing(path)
        if listing is not None:
            return conditional(listing, _DATE, headers)
        generated = self._generated(path)
        if generated is not None:
            return generated
        case = self._by_path.get(path)
        if case is None:
            return ReplayResponse(404, {"Content-Type": _HTML}, b"<h1>Not found</h1>")
        return self._serve(case)

    def _listing(self, path: str) -> ReplayResponse | None:
        if path == "/sitemap.xml":
            children = [f"https://{self.host}/sitemap_articles.xml"]
            children += [c.url for c in self.cases if c.listed_in == "index"]
            return ReplayResponse(200, {"Content-Type": _XML}, _index(children))
        if path == "/sitemap_articles.xml":
            urls = [c.url for c in self.cases if c.listed_in == "urlset"]
            return ReplayResponse(200, {"Content-Type": _XML}, _urlset(urls))
        if path == "/feed.xml":
            urls = [c.url for c in self.cases if c.listed_in == "feed"]
            return ReplayResponse(200, {"Content-Type": "application/rss+xml"}, _feed(urls))
        return None

    def _generated(self, path: str) -> ReplayResponse | None:
        """The inner levels of `chain` cases (``<prefix><n>.xml``)."""
        for case in self.cases:
            depth = case.serve.get("chain")
            stem = case.path.removesuffix("0.xml")
            if depth and path.startswith(stem) and path.endswith(".xml"):
                level = path[len(stem) : -len(".xml")]
                if level.isdigit() and 0 < int(level) <= depth:
                    return self._chain_level(stem, int(level), depth)
        return None

    def _chain_level(self, stem: str, level: int, depth: int) -> ReplayResponse:
        if level == depth:
            body = _urlset([f"https://{self.host}/a/deep-end.html"])
        else:
            body = _index([f"https://{self.host}{stem}{level + 1}.xml"])
        return ReplayResponse(200, {"Content-Type": _XML}, body)

    def _serve(self, case: Case) -> ReplayResponse:
        serve = case.serve
        if "redirect" in serve:
            location = self._absolute(serve["redirect"])
            return ReplayResponse(int(serve.get("status", 301)), {"Location": location}, b"")
        if "meta_refresh" in serve:
            target = html.escape(self._absolute(serve["meta_refresh"]), quote=True)
            body = f'<html><head><meta http-equiv="refresh" content="0;url={target}"></head></html>'
            return ReplayResponse(200, {"Content-Type": _HTML}, body.encode())
        if "status" in serve:
            return ReplayResponse(int(serve["status"]), {"Content-Type": _HTML}, b"<h1>Gone</h1>")
        if "article" in serve:
            return ReplayResponse(200, {"Content-Type": _HTML}, _article(case.url))
        if "xml" in serve:
            body = self._fill(serve["xml"]).encode()
            if serve.get("gzip"):
                return ReplayResponse(200, {"Content-Type": _GZIP}, gzip.compress(body, mtime=0))
            return ReplayResponse(200, {"Content-Type": _XML}, body)
        if "gzip_bomb" in serve:
            return ReplayResponse(200, {"Content-Type": _GZIP}, self._bomb(serve["gzip_bomb"]))
        if "encoded_bomb" in serve:
            headers = {"Content-Type": _XML, "Content-Encoding": "gzip"}
            return ReplayResponse(200, headers, self._bomb(serve["encoded_bomb"]))
        if serve.get("broken_gzip"):
            whole = gzip.compress(
                _urlset([f"https://{self.host}/a/broken-{i}.html" for i in range(40)])
            )
            return ReplayResponse(
                200, {"Content-Type": _GZIP}, whole[: len(whole) // 2] + b"\0" * 64
            )
        if "index" in serve:
            children = [self._absolute(child) for child in serve["index"]]
            return ReplayResponse(200, {"Content-Type": _XML}, _index(children))
        if "chain" in serve:
            stem = case.path.removesuffix("0.xml")
            return ReplayResponse(
                200, {"Content-Type": _XML}, _index([f"https://{self.host}{stem}1.xml"])
            )
        if "urlset" in serve:
            urls = [f"https://{self.host}/a/many-{i}.html" for i in range(int(serve["urlset"]))]
            return ReplayResponse(200, {"Content-Type": _XML}, _urlset(urls))
        if "feed" in serve:
            urls = [f"https://{self.host}/a/feed-item-{i}.html" for i in range(int(serve["feed"]))]
            return ReplayResponse(200, {"Content-Type": "application/rss+xml"}, _feed(urls))
        raise ValueError(f"route set {self.name}: unknown serve {serve!r} for {case.path}")

    def _bomb(self, mib: int) -> bytes:
        key = f"bomb-{mib}"
        if key not in self._cache:
            self._cache[key] = _gzip_bomb(int(mib))
        return self._cache[key]

    # ------------------------------------------------------------------ for the tests
    def expectations(self) -> dict[str, str]:
        """URL -> the outcome or error kind the crawl must record for it."""
        out = {case.url: case.expect for case in self.cases if case.expect}
        for case in self.cases:
            out.update(case.also_expect)
        return out

    def never_requested(self) -> list[str]:
        """URLs the server must never have been asked for."""
        return [url for case in self.cases for url in case.never_requested]


def load_route_set(name: str, replay_url: str) -> RouteSet:
    """The route set ``name`` (``spiders/replay/routesets/<name>.yaml``)."""
    data = yaml.safe_load(route_set_path(name).read_text(encoding="utf-8"))
    return RouteSet(name, data, replay_url)


def _index(children: list[str]) -> bytes:
    items = "".join(f"<sitemap><loc>{html.escape(c)}</loc></sitemap>" for c in children)
    return (
        f'<?xml version="1.0"?><sitemapindex xmlns="{_SITEMAP_NS}">{items}</sitemapindex>'.encode()
    )


def _urlset(urls: list[str]) -> bytes:
    stamp = _DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
    items = "".join(
        f"<url><loc>{html.escape(u)}</loc><lastmod>{stamp}</lastmod></url>" for u in urls
    )
    return f'<?xml version="1.0"?><urlset xmlns="{_SITEMAP_NS}">{items}</urlset>'.encode()


def _feed(urls: list[str]) -> bytes:
    stamp = _DATE.strftime("%a, %d %b %Y %H:%M:%S GMT")
    items = "".join(
        f"<item><title>Item {i}</title><link>{html.escape(u)}</link><pubDate>{stamp}</pubDate>"
        "</item>"
        for i, u in enumerate(urls)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile feed</title>'
        f"<link>https://hostile.kzmon.test/</link>{items}</channel></rss>"
    ).encode()


def _article(url: str) -> bytes:
    title = html.escape(url.rsplit("/", 1)[-1][:80])
    published = _DATE.isoformat()
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="article:published_time" content="{published}"></head><body>'
        f"<h1>{title}</h1><p>A plain article of the hostile route set.</p></body></html>"
    ).encode()


def _gzip_bomb(mib: int) -> bytes:
    """A gzipped urlset that inflates to ``mib`` MiB of blanks (kilobytes on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(f'<?xml version="1.0"?><urlset xmlns="{_SITEMAP_NS}">'.encode())]
    block = b" " * (1024 * 1024)
    parts.extend(compressor.compress(block) for _ in range(mib))
    parts.append(compressor.compress(b"</urlset>"))
    parts.append(compressor.flush())
    return b"".join(parts)
