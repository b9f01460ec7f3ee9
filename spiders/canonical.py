"""Canonical URLs: one URL per article whatever the variant a feed or sitemap listed.

Tracking parameters (utm_*, fbclid, ...), AMP copies (``/amp/...``, ``.../amp``, ``?amp``),
fragments, default ports and trailing-slash variants all resolve to the same canonical URL.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

#: Query parameters that only track where a reader came from.
TRACKING_PARAMS = (
    "fbclid",
    "gclid",
    "yclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "igshid",
    "amp",
    "outputType",
)
_TRACKING_PREFIXES = ("utm_",)
_AMP_PREFIX = re.compile(r"^/amp(?=/)")
_AMP_SUFFIX = re.compile(r"/amp/?$")


def _strip_tracking(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    names = {kv.split("=", 1)[0] for kv in parts.query.split("&") if kv}
    drop = [n for n in names if n in TRACKING_PARAMS or n.startswith(_TRACKING_PREFIXES)]
    return url_query_cleaner(url, drop, remove=True, keep_fragments=False) if drop else url


#: URLs already in canonical form but for a trailing slash: lower-case host, no port, query,
#: fragment, escapes or AMP segment. Most sitemap URLs are; they skip w3lib (a tenth of the
#: cost on the 200,000-URL RFE/RL archives). tests/crawl check both paths agree on them.
_SIMPLE = re.compile(r"https?://[a-z0-9.-]+(?:/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*/?")


def canonicalize(url: str) -> str:
    """The canonical form of an article URL (stable across runs; used as the dedupe key)."""
    url = url.strip()
    if _SIMPLE.fullmatch(url) and "/amp" not in url and "/." not in url:
        if url.count("/") == 2:
            return url + "/"
        return url[:-1] if url.endswith("/") and url.count("/") > 3 else url
    url = canonicalize_url(_strip_tracking(url), keep_fragments=False)
    parts = urlsplit(url)
    path = _AMP_SUFFIX.sub("", _AMP_PREFIX.sub("", parts.path)) or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    host = (parts.hostname or "").lower()
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    scheme = parts.scheme.lower() if parts.scheme else "https"
    return urlunsplit((scheme, host, path, parts.query, ""))
