"""The seam between the spiders and the network: live sites, or the offline replay.

When ``KZMON_REPLAY_URL`` is set, `ReplayDownloadHandler` sends requests for the outlets' real
hosts to ``{replay}/{host}{path}`` and hands the response back under the real URL, so robots.txt
handling, redirects, offsite filtering and every record see the outlets' real URLs. Spiders are
the same for the live sites and the replay.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Response

from spiders.registry import load_outlets

LOGGER = logging.getLogger(__name__)


def replay_url_for(url: str, replay_base: str) -> str:
    """``https://host/path?q`` -> ``{replay_base}/host/path?q``."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{replay_base.rstrip('/')}/{parts.hostname}{parts.path or '/'}{query}"


class ReplayDownloadHandler(HTTP11DownloadHandler):
    """HTTP(S) handler that serves the outlets' hosts from the replay (setting KZMON_REPLAY)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.replay_base = crawler.settings.get("KZMON_REPLAY", "")
        self.hosts = {d for outlet in load_outlets() for d in outlet.allowed_domains}

    async def download_request(self, request: Request) -> Response:
        """Download from the replay when the host is an outlet's; else normally."""
        host = urlsplit(request.url).hostname or ""
        if not self.replay_base or host not in self.hosts:
            return await super().download_request(request)
        routed = request.replace(url=replay_url_for(request.url, self.replay_base))
        response = await super().download_request(routed)
        return response.replace(url=request.url)
