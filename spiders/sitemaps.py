"""Streamed sitemap reading: gzip or plain, size-limited, entity-free, one entry at a time.

`SitemapReader` decompresses a sitemap body in chunks and feeds them to lxml's pull parser,
yielding `SitemapEntry` (a ``<url>`` of a urlset, with its Google-News and video fields) or
`ChildSitemap` (a ``<sitemap>`` of an index) as soon as each element closes, then drops it: the
parsed tree never holds more than one entry, whatever the file's size. A document is refused
with `SitemapRefused` (a named kind, recorded by the spider) when:

- it decompresses to more than the limit (``sitemap_too_large``; the sitemaps protocol allows
  50 MB uncompressed per file, so a gzip bomb stops there);
- it declares entities in its DTD (``xml_entities``: billion laughs, XXE; no sitemap needs one);
- it is not a urlset or a sitemap index, or its gzip stream is broken (``sitemap_malformed``).

`classify_child` gives an index's child sitemap its role from the registry's URL patterns.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from lxml import etree

LOGGER = logging.getLogger(__name__)

#: Bytes handed to the decompressor / parser per step (small enough to stop a bomb early).
CHUNK_BYTES = 256 * 1024
#: Roles a child of a sitemap index can have when the registry gives no pattern for it,
#: matched against the child's file name (RFE/RL: ``sitemap_5_news.xml.gz`` and so on).
DEFAULT_CHILD_RULES: tuple[tuple[str, str], ...] = (
    (r"news", "news"),
    (r"latest|recent", "latest"),
    (r"video", "videos"),
    (r"section|categor|(?<![a-z])tags?(?![a-z])|author|topic|static", "sections"),
)


class SitemapRefused(Exception):
    """A sitemap document that is not read, with the kind recorded for it."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """One ``<url>`` of a urlset."""

    loc: str
    lastmod: str | None = None
    news_date: str | None = None
    news_title: str | None = None
    video_date: str | None = None
    video_title: str | None = None


@dataclass(frozen=True, slots=True)
class ChildSitemap:
    """One ``<sitemap>`` of a sitemap index."""

    loc: str
    lastmod: str | None = None


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _text(element: etree._Element) -> str | None:
    text = (element.text or "").strip()
    return text or None


def _declares_entities(element: etree._Element) -> bool:
    """True when the document of ``element`` declares entities (general or parameter) in its
    internal DTD subset: billion laughs and XXE need that; an external DTD alone (RSS 0.91's
    ``<!DOCTYPE rss PUBLIC ...>``) is harmless, it is never loaded."""
    dtd = element.getroottree().docinfo.internalDTD
    return dtd is not None and any(True for _ in dtd.iterentities())


class SitemapReader:
    """Iterate the entries of one sitemap body (see the module docstring).

    ``kind`` is ``"urlset"`` or ``"sitemapindex"`` once the root element has been read;
    ``uncompressed_bytes`` is how much XML was parsed.
    """

    def __init__(self, body: bytes, *, max_bytes: int) -> None:
        self.body = body
        self.max_bytes = max_bytes
        self.kind: str | None = None
        self.uncompressed_bytes = 0
        self.gzipped = body[:2] == b"\x1f\x8b"

    def __iter__(self) -> Iterator[SitemapEntry | ChildSitemap]:
        parser = etree.XMLPullParser(
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            recover=True,
            remove_comments=True,
            remove_pis=True,
        )
        for chunk in self._xml_chunks():
            parser.feed(chunk)
            yield from self._events(parser)
        try:
            parser.close()
        except etree.XMLSyntaxError as exc:
            if self.kind is None:
                raise SitemapRefused("sitemap_malformed", f"not XML: {exc}") from exc
        yield from self._events(parser)
        if self.kind is None:
            raise SitemapRefused("sitemap_malformed", "empty document")

    # ------------------------------------------------------------------ bytes
    def _xml_chunks(self) -> Iterator[bytes]:
        if not self.gzipped:
            for start in range(0, len(self.body), CHUNK_BYTES):
                yield self._counted(self.body[start : start + CHUNK_BYTES])
            return
        data = self.body
        while data:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = data
            while pending:
                try:
                    out = decompressor.decompress(pending, CHUNK_BYTES)
                except zlib.error as exc:
                    raise SitemapRefused("sitemap_malformed", f"broken gzip: {exc}") from exc
                pending = decompressor.unconsumed_tail
                if out:
                    yield self._counted(out)
                if decompressor.eof:
                    break
                if not out and not pending:
                    break
            if not decompressor.eof:
                raise SitemapRefused("sitemap_malformed", "truncated gzip stream")
            data = decompressor.unused_data  # a further gzip member, if any
            if data and data[:2] != b"\x1f\x8b":
                break

    def _counted(self, chunk: bytes) -> bytes:
        self.uncompressed_bytes += len(chunk)
        if self.uncompressed_bytes > self.max_bytes:
            raise SitemapRefused(
                "sitemap_too_large",
                f"more than {self.max_bytes} bytes uncompressed"
                f" ({len(self.body)} bytes {'gzipped' if self.gzipped else 'as served'})",
            )
        return chunk

    # ------------------------------------------------------------------ elements
    def _events(self, parser: etree.XMLPullParser) -> Iterator[SitemapEntry | ChildSitemap]:
        for event, element in parser.read_events():
            if self.kind is None and event == "start":
                self._root(element)
                continue
            if event != "end" or element.getparent() is None:
                continue
            name = _local(element.tag)
            if element.getparent().getparent() is not None:
                continue  # a field of an entry: read with its entry
            if name == "url" and self.kind == "urlset":
                entry = _url_entry(element)
            elif name == "sitemap" and self.kind == "sitemapindex":
                entry = _child_entry(element)
            else:
                entry = None
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
            if entry is not None:
                yield entry

    def _root(self, element: etree._Element) -> None:
        if _declares_entities(element):
            raise SitemapRefused("xml_entities", "the document declares a DTD or entities")
        name = _local(element.tag)
        if name not in ("urlset", "sitemapindex"):
            raise SitemapRefused("sitemap_malformed", f"root element <{name}>, not a sitemap")
        self.kind = name


def _url_entry(element: etree._Element) -> SitemapEntry | None:
    fields: dict[str, str | None] = {}
    for child in element:
        name = _local(child.tag)
        if name in ("loc", "lastmod"):
            fields[name] = _text(child)
        elif name in ("news", "video"):
            for part in child:
                part_name = _local(part.tag)
                if part_name in ("publication_date", "title"):
                    fields[f"{name}_{part_name}"] = _text(part)
    loc = fields.get("loc")
    if not loc:
        return None
    return SitemapEntry(
        loc=loc,
        lastmod=fields.get("lastmod"),
        news_date=fields.get("news_publication_date"),
        news_title=fields.get("news_title"),
        video_date=fields.get("video_publication_date"),
        video_title=" ".join((fields.get("video_title") or "").split()) or None,
    )


def _child_entry(element: etree._Element) -> ChildSitemap | None:
    fields = {_local(child.tag): _text(child) for child in element}
    loc = fields.get("loc")
    return ChildSitemap(loc, fields.get("lastmod")) if loc else None


def classify_child(url: str, rules: Sequence[tuple[str, str]] = ()) -> str:
    """The role of an index's child sitemap: the first matching rule (registry rules, then
    `DEFAULT_CHILD_RULES` on the file name), else ``archive``."""
    for pattern, role in rules:
        if re.search(pattern, url):
            return role
    name = url.split("?", 1)[0].rstrip("/").rpartition("/")[2].lower()
    for pattern, role in DEFAULT_CHILD_RULES:
        if re.search(pattern, name):
            return role
    return "archive"


def declares_entities(body: bytes, *, probe_bytes: int = 1024 * 1024) -> bool:
    """True when an XML document (a feed) declares entities before its root element.

    Only the prolog is parsed (up to the root element, within ``probe_bytes``): documents
    that are not XML at all are left to their own parser (feedparser copes with broken feeds).
    """
    parser = etree.XMLPullParser(
        events=("start",), resolve_entities=False, no_network=True, load_dtd=False, recover=True
    )
    try:
        for start in range(0, min(len(body), probe_bytes), CHUNK_BYTES):
            parser.feed(body[start : start + CHUNK_BYTES])
            for _, element in parser.read_events():
                return _declares_entities(element)
    except etree.XMLSyntaxError:
        return False
    return False
