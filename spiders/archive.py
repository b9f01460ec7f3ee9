"""Reading the raw WARC archive back, so extraction can be rerun without recrawling."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchivedResponse:
    """One response record of a run's WARC files."""

    record_id: str
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    warc_file: str


def iter_responses(run_dir: Path) -> Iterator[ArchivedResponse]:
    """Every response archived by a crawl run (all attempts, oldest first)."""
    for path in sorted((Path(run_dir) / "warc").glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response":
                    continue
                http = record.http_headers
                yield ArchivedResponse(
                    record_id=record.rec_headers.get_header("WARC-Record-ID"),
                    url=record.rec_headers.get_header("WARC-Target-URI"),
                    status=int(http.get_statuscode()),
                    headers=dict(http.headers),
                    body=record.content_stream().read(),
                    warc_file=str(path.relative_to(run_dir)),
                )


def page_html(run_dir: Path, warc_record_id: str) -> str | None:
    """The HTML of the archived response a page record points to (None if absent)."""
    for response in iter_responses(run_dir):
        if response.record_id == warc_record_id:
            return response.body.decode("utf-8", errors="replace")
    return None
