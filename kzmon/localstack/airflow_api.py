"""A small client for Airflow 3's REST API v2 (``/api/v2``): what `make up`, `make status` and
the production tests need — health, DAGs, import errors, triggering a run and waiting for it.

On the loopback stack the simple auth manager treats everyone as admin
(``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS``), so no token is sent; pass ``token`` for a
deployment with real auth (``POST /auth/token`` gives one).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

LOGGER = logging.getLogger(__name__)

#: Terminal states of a DAG run.
FINISHED = {"success", "failed"}


class AirflowApiError(RuntimeError):
    """The API answered with an error status (or not at all)."""


@dataclass
class AirflowApi:
    """REST API v2 of one Airflow API server."""

    base_url: str
    token: str | None = None
    timeout: float = 15.0

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One JSON request; the decoded answer, or `AirflowApiError`."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url.rstrip("/") + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode(errors="replace")
            raise AirflowApiError(f"{method} {path}: HTTP {exc.code} {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise AirflowApiError(f"{method} {path}: {exc}") from exc
        return json.loads(raw) if raw else None

    def health(self) -> dict[str, Any] | None:
        """``/api/v2/monitor/health``, or None while the server does not answer."""
        try:
            return self.request("GET", "/api/v2/monitor/health")
        except AirflowApiError:
            return None

    def dags(self, pattern: str = "kzmon_%") -> list[dict[str, Any]]:
        """Every DAG whose id matches the SQL LIKE ``pattern``."""
        query = urllib.parse.urlencode({"dag_id_pattern": pattern, "limit": 500})
        return self.request("GET", f"/api/v2/dags?{query}")["dags"]

    def outlet_dag_ids(self) -> list[str]:
        """The ids of the outlet DAGs (one per registry outlet), sorted."""
        return sorted(d["dag_id"] for d in self.dags("kzmon_outlet_%"))

    def import_errors(self) -> list[dict[str, Any]]:
        """The DAG files that failed to import, with their tracebacks."""
        return self.request("GET", "/api/v2/importErrors?limit=500")["import_errors"]

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        """Trigger a manual run (no logical date, hence no data interval, as in the UI)."""
        body = {"logical_date": None, "conf": conf or {}}
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """One DAG run."""
        quoted = urllib.parse.quote(run_id, safe="")
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}")

    def runs(self, dag_id: str, **filters: Any) -> list[dict[str, Any]]:
        """The runs of a DAG, oldest first (filters: ``run_type``, ``state``, ...)."""
        query = urllib.parse.urlencode({"limit": 100, "order_by": "run_after", **filters}, True)
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?{query}")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The task instances of one run."""
        quoted = urllib.parse.quote(run_id, safe="")
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances"
        return self.request("GET", path)["task_instances"]

    def wait_for_run(
        self, dag_id: str, run_id: str, timeout: float = 600.0, poll: float = 2.0
    ) -> dict[str, Any]:
        """Poll a run until it succeeds or fails (or `TimeoutError`); return it."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in FINISHED:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} {run_id} still {run['state']} after {timeout:g} s")
            time.sleep(poll)
