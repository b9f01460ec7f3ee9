"""The one place that builds an Elasticsearch client and asks a cluster what it offers.

Everything that talks to Elasticsearch goes through `get_client()`, which reads `ES_URL`
(and `ES_USERNAME`/`ES_PASSWORD` or `ES_API_KEY`, `ES_CA_CERTS`, `ES_VERIFY_CERTS`), so the
same code runs against the local node, the docker-compose stack or a production cluster.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from kzmon.settings import Settings, get_settings

LOGGER = logging.getLogger(__name__)

# Requests that touch a whole index (set-up, refresh) can take a while on a 2-core machine.
DEFAULT_REQUEST_TIMEOUT_S = 30


def get_client(settings: Settings | None = None, **overrides: Any) -> Elasticsearch:
    """Build a client for the cluster named by the settings (default: the environment)."""
    s = settings or get_settings()
    kwargs: dict[str, Any] = {
        "request_timeout": DEFAULT_REQUEST_TIMEOUT_S,
        "retry_on_timeout": True,
        "max_retries": 2,
    }
    if s.es_api_key:
        kwargs["api_key"] = s.es_api_key
    elif s.es_username:
        kwargs["basic_auth"] = (s.es_username, s.es_password)
    if s.es_ca_certs:
        kwargs["ca_certs"] = s.es_ca_certs
    if s.es_url.startswith("https") and not s.es_verify_certs:
        kwargs["verify_certs"] = False
        kwargs["ssl_show_warn"] = False
    kwargs.update(overrides)
    return Elasticsearch(es_hosts(s.es_url), **kwargs)


def es_hosts(es_url: str) -> list[str]:
    """The node URLs of ``ES_URL``: one URL, or several separated by commas (the nodes of a
    cluster; the client spreads requests over them and retries on another when one is down)."""
    return [url.strip() for url in es_url.split(",") if url.strip()]


@dataclass(frozen=True)
class ClusterInfo:
    """What a cluster is and which optional pieces it offers."""

    version: str
    build_flavor: str
    build_hash: str
    modules: frozenset[str] = field(default_factory=frozenset)
    plugins: frozenset[str] = field(default_factory=frozenset)

    @property
    def major(self) -> int:
        """The major version number (9 for 9.5.0)."""
        return int(self.version.split(".", 1)[0])

    def has(self, component: str) -> bool:
        """True when every node has this module or plugin (e.g. ``analysis-common``)."""
        return component in self.modules or component in self.plugins


def cluster_info(es: Elasticsearch) -> ClusterInfo:
    """Version, build and the modules/plugins present on every node.

    Read from ``GET _nodes``: ``GET /`` is served by the ``rest-root`` module, which the
    stripped-down integ-test distribution lacks (it answers 405, and the client would then put
    the node in a time-out).
    """
    nodes = es.nodes.info(metric="plugins").body["nodes"]
    modules: set[str] | None = None
    plugins: set[str] | None = None
    for node in nodes.values():
        node_modules = {m["name"] for m in node.get("modules", [])}
        node_plugins = {p["name"] for p in node.get("plugins", [])}
        modules = node_modules if modules is None else modules & node_modules
        plugins = node_plugins if plugins is None else plugins & node_plugins
    first = next(iter(nodes.values()))
    version, flavor = first["version"], first.get("build_flavor", "")
    build_hash = first.get("build_hash", "")
    return ClusterInfo(
        version=version,
        build_flavor=flavor,
        build_hash=build_hash,
        modules=frozenset(modules or ()),
        plugins=frozenset(plugins or ()),
    )
