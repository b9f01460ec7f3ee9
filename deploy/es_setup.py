"""One-shot Elasticsearch security set-up for the docker-compose stack (service ``es-setup``).

Runs in the kzmon image once Elasticsearch is healthy, as the ``elastic`` superuser:

- sets the password of the built-in ``kibana_system`` user (Kibana connects with it);
- creates the role ``kzmon_writer`` (its indices and templates only) and the user kzmon's
  Airflow tasks connect as (``KZMON_ES_USERNAME``/``KZMON_ES_PASSWORD``).

Every call is an upsert, so the job is safe on every ``docker compose up``. Environment:
``ES_URL``, ``ES_CA_CERTS`` (read by ``kzmon.es.get_client``), ``ELASTIC_PASSWORD``,
``KIBANA_SYSTEM_PASSWORD``, ``KZMON_ES_USERNAME``, ``KZMON_ES_PASSWORD``, ``KZMON_INDEX_PREFIX``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import Elasticsearch
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

LOGGER = logging.getLogger(__name__)

KZMON_ROLE = "kzmon_writer"
KIBANA_SYSTEM_USER = "kibana_system"
#: The compose healthcheck of ``es-setup`` looks for this file.
DONE_MARKER = Path(os.environ.get("DONE_MARKER") or "/tmp/es-setup.done")
REQUIRED_ENV = ("ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD", "KZMON_ES_PASSWORD")

#: What the pipeline does on the cluster: read node info (kzmon.es.cluster_info needs
#: ``monitor``), put index templates, ILM policies and ingest pipelines during set-up.
KZMON_CLUSTER_PRIVILEGES = (
    "monitor",
    "manage_index_templates",
    "manage_ilm",
    "manage_ingest_pipelines",
)


@dataclass(frozen=True)
class SecurityConfig:
    """The passwords and names the set-up applies."""

    elastic_password: str
    kibana_system_password: str
    kzmon_username: str
    kzmon_password: str
    index_prefix: str


def config_from_env(environ: Mapping[str, str]) -> SecurityConfig:
    """Read the set-up's configuration; raise ValueError naming every missing variable."""
    missing = [name for name in REQUIRED_ENV if not environ.get(name, "").strip()]
    if missing:
        raise ValueError(f"missing environment variables: {', '.join(missing)}")
    return SecurityConfig(
        elastic_password=environ["ELASTIC_PASSWORD"],
        kibana_system_password=environ["KIBANA_SYSTEM_PASSWORD"],
        kzmon_username=environ.get("KZMON_ES_USERNAME", "").strip() or "kzmon",
        kzmon_password=environ["KZMON_ES_PASSWORD"],
        index_prefix=environ.get("KZMON_INDEX_PREFIX", "").strip() or "kzmon",
    )


def kzmon_role(index_prefix: str) -> dict[str, Any]:
    """The role of the kzmon user: everything on its own indices and aliases, nothing else."""
    return {
        "cluster": list(KZMON_CLUSTER_PRIVILEGES),
        "indices": [
            {
                "names": [f"{index_prefix}-*", index_prefix],
                "privileges": ["all"],
            }
        ],
    }


@retry(
    retry=retry_if_exception_type(TransportConnectionError),
    stop=stop_after_attempt(10),
    wait=wait_exponential(multiplier=1, max=15),
    reraise=True,
)
def apply_security(es: Elasticsearch, config: SecurityConfig) -> None:
    """Set the kibana_system password and upsert the kzmon role and user."""
    es.security.change_password(username=KIBANA_SYSTEM_USER, password=config.kibana_system_password)
    LOGGER.info("password of %s set", KIBANA_SYSTEM_USER)
    es.security.put_role(name=KZMON_ROLE, **kzmon_role(config.index_prefix))
    LOGGER.info("role %s upserted", KZMON_ROLE)
    es.security.put_user(
        username=config.kzmon_username,
        password=config.kzmon_password,
        roles=[KZMON_ROLE],
        full_name="kzmon pipeline",
    )
    LOGGER.info("user %s upserted", config.kzmon_username)


def main() -> int:
    """Entry point of the ``es-setup`` service; 0 on success."""
    logging.basicConfig(level=logging.INFO, format="es-setup: %(message)s")
    try:
        config = config_from_env(os.environ)
    except ValueError as exc:
        LOGGER.error("%s", exc)
        return 2
    from kzmon.es import get_client

    es = get_client(basic_auth=("elastic", config.elastic_password))
    try:
        apply_security(es, config)
    finally:
        es.close()
    DONE_MARKER.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
