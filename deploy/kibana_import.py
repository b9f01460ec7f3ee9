"""One-shot import of kzmon's Kibana saved objects (service ``kibana-init``).

Posts every ``index_mappings/kibana/*.ndjson`` file (data views, saved searches, dashboards;
the one source of truth for them) to Kibana's saved-objects import API with
``overwrite=true``, so re-running it after an upgrade updates the objects in place. A file
that fails is logged with Kibana's errors and the others are still imported; the job exits 1
when any file failed, so ``docker compose ps`` shows it.

Environment: ``KIBANA_INTERNAL_URL`` (default ``http://kibana:5601``), ``KIBANA_USERNAME``
(default ``elastic``), ``ELASTIC_PASSWORD``, ``KZMON_KIBANA_OBJECTS_DIR`` (default: the
repository's ``index_mappings/kibana``).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

LOGGER = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OBJECTS_DIR = REPO_ROOT / "index_mappings" / "kibana"
IMPORT_PATH = "/api/saved_objects/_import"
#: The compose healthcheck of ``kibana-init`` looks for this file.
DONE_MARKER = Path(os.environ.get("DONE_MARKER") or "/tmp/kibana-init.done")
#: Importing a dashboard with its Lens panels takes a few seconds on a small machine.
REQUEST_TIMEOUT_S = 60.0


@dataclass
class ImportResult:
    """What Kibana answered for one NDJSON file."""

    path: Path
    success: bool
    imported: int
    errors: list[dict[str, Any]] = field(default_factory=list)


def saved_object_files(directory: Path) -> list[Path]:
    """The NDJSON files to import, in a stable order."""
    return sorted(p for p in directory.glob("*.ndjson") if p.is_file())


def parse_import_response(path: Path, status_code: int, body: Any) -> ImportResult:
    """Turn Kibana's answer into an ImportResult (an HTTP error counts as a failed file)."""
    if status_code != 200 or not isinstance(body, dict):
        return ImportResult(path, False, 0, [{"status": status_code, "body": body}])
    errors = list(body.get("errors") or [])
    success = bool(body.get("success")) and not errors
    return ImportResult(path, success, int(body.get("successCount") or 0), errors)


def _is_transient(exc: BaseException) -> bool:
    """Connection problems and 5xx answers (Kibana still starting) are worth a retry."""
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500


@retry(
    retry=retry_if_exception(_is_transient),
    stop=stop_after_attempt(8),
    wait=wait_exponential(multiplier=1, max=20),
    reraise=True,
)
def _post_file(client: httpx.Client, path: Path) -> httpx.Response:
    response = client.post(
        IMPORT_PATH,
        params={"overwrite": "true"},
        files={"file": (path.name, path.read_bytes(), "application/ndjson")},
    )
    if response.status_code >= 500:
        response.raise_for_status()
    return response


def import_file(client: httpx.Client, path: Path) -> ImportResult:
    """Import one NDJSON file; never raises for an answer Kibana gives."""
    try:
        response = _post_file(client, path)
    except httpx.HTTPError as exc:
        return ImportResult(path, False, 0, [{"error": str(exc)}])
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500]
    return parse_import_response(path, response.status_code, body)


def import_all(client: httpx.Client, directory: Path) -> list[ImportResult]:
    """Import every file of the folder; log each result."""
    results = []
    for path in saved_object_files(directory):
        result = import_file(client, path)
        if result.success:
            LOGGER.info("%s: %d objects imported", path.name, result.imported)
        else:
            LOGGER.error("%s: import failed: %s", path.name, result.errors)
        results.append(result)
    return results


def make_client(base_url: str, username: str, password: str) -> httpx.Client:
    """An HTTP client for Kibana's API (the ``kbn-xsrf`` header is required on writes)."""
    return httpx.Client(
        base_url=base_url,
        auth=(username, password),
        headers={"kbn-xsrf": "kzmon-kibana-init"},
        timeout=REQUEST_TIMEOUT_S,
    )


def main() -> int:
    """Entry point of the ``kibana-init`` service; 0 when every file was imported."""
    logging.basicConfig(level=logging.INFO, format="kibana-init: %(message)s")
    password = os.environ.get("ELASTIC_PASSWORD", "")
    if not password:
        LOGGER.error("ELASTIC_PASSWORD is not set")
        return 2
    directory = Path(os.environ.get("KZMON_KIBANA_OBJECTS_DIR") or DEFAULT_OBJECTS_DIR)
    if not saved_object_files(directory):
        LOGGER.warning("no saved objects in %s: nothing to import", directory)
    base_url = os.environ.get("KIBANA_INTERNAL_URL") or "http://kibana:5601"
    username = os.environ.get("KIBANA_USERNAME") or "elastic"
    with make_client(base_url, username, password) as client:
        results = import_all(client, directory)
    if not all(r.success for r in results):
        return 1
    DONE_MARKER.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
