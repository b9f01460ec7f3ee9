"""The init scripts in deploy/: shell syntax, the Elasticsearch security set-up, Kibana import.

The Kibana import is checked against an in-process HTTP transport (httpx.MockTransport): no
Kibana runs on these machines, and only Elasticsearch and SMTP must always be real.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import REPO_ROOT, load_deploy_module

SHELL_SCRIPTS = sorted((REPO_ROOT / "deploy").glob("*.sh"))


@pytest.fixture(scope="module")
def kibana_import():
    return load_deploy_module("kibana_import")


@pytest.fixture(scope="module")
def es_setup():
    return load_deploy_module("es_setup")


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_parse(script: Path) -> None:
    bash = shutil.which("bash")
    assert bash
    result = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()


def test_scripts_named_in_the_compose_files_exist(raw_files: dict) -> None:
    text = "\n".join(p.read_text() for p in REPO_ROOT.glob("docker-compose*.yml"))
    named = set(re.findall(r"deploy/([\w.-]+\.(?:sh|py))", text))
    assert {"es-certs.sh", "es_setup.py", "kibana_import.py", "kzmon-init.sh"} <= named
    for name in named:
        assert (REPO_ROOT / "deploy" / name).is_file(), name


def test_init_applies_templates_with_the_indexer_cli() -> None:
    """The index engineer's CLI name is a contract: `python -m kzmon.indexer setup`."""
    script = (REPO_ROOT / "deploy" / "kzmon-init.sh").read_text()
    assert "python -m kzmon.indexer setup" in script
    assert "airflow db migrate" in script
    assert "airflow connections import --overwrite" in script


# --- es_setup --------------------------------------------------------------------------------


def test_kzmon_role_only_reaches_its_own_indices(es_setup) -> None:
    role = es_setup.kzmon_role("kzmon")
    assert role["indices"] == [{"names": ["kzmon-*", "kzmon"], "privileges": ["all"]}]
    assert "monitor" in role["cluster"]  # kzmon.es.cluster_info reads GET _nodes
    assert "all" not in role["cluster"] and "manage_security" not in role["cluster"]
    assert es_setup.kzmon_role("news")["indices"][0]["names"] == ["news-*", "news"]


def test_es_setup_config_names_every_missing_variable(es_setup) -> None:
    with pytest.raises(ValueError, match="ELASTIC_PASSWORD, KIBANA_SYSTEM_PASSWORD"):
        es_setup.config_from_env({"KZMON_ES_PASSWORD": "x"})
    config = es_setup.config_from_env(
        {"ELASTIC_PASSWORD": "a", "KIBANA_SYSTEM_PASSWORD": "b", "KZMON_ES_PASSWORD": "c"}
    )
    assert (config.kzmon_username, config.index_prefix) == ("kzmon", "kzmon")


def test_es_setup_refuses_to_run_without_passwords(es_setup, monkeypatch) -> None:
    for name in es_setup.REQUIRED_ENV:
        monkeypatch.delenv(name, raising=False)
    assert es_setup.main() == 2


# --- kibana_import ---------------------------------------------------------------------------


class FakeKibana:
    """Answers like Kibana's import API; records what it was sent."""

    def __init__(self, answers: dict[str, httpx.Response]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = request.read().decode()
        for name, answer in self.answers.items():
            if f'filename="{name}"' in body:
                return answer
        return httpx.Response(404)


def _ndjson(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text(json.dumps({"type": "index-pattern", "id": name, "attributes": {}}) + "\n")
    return path


def test_import_posts_each_file_with_overwrite(kibana_import, tmp_path: Path) -> None:
    _ndjson(tmp_path, "b.ndjson")
    _ndjson(tmp_path, "a.ndjson")
    (tmp_path / "notes.txt").write_text("not an export")
    ok = httpx.Response(200, json={"success": True, "successCount": 1, "errors": []})
    kibana = FakeKibana({"a.ndjson": ok, "b.ndjson": ok})
    with httpx.Client(
        base_url="http://kibana:5601",
        transport=httpx.MockTransport(kibana),
        headers={"kbn-xsrf": "t"},
    ) as client:
        results = kibana_import.import_all(client, tmp_path)
    assert [r.path.name for r in results] == ["a.ndjson", "b.ndjson"]
    assert all(r.success and r.imported == 1 for r in results)
    request = kibana.requests[0]
    assert request.url.path == "/api/saved_objects/_import"
    assert request.url.params["overwrite"] == "true"
    assert request.headers["kbn-xsrf"] == "t"
    assert request.headers["content-type"].startswith("multipart/form-data")


def test_a_failed_file_does_not_stop_the_others(kibana_import, tmp_path: Path) -> None:
    _ndjson(tmp_path, "a.ndjson")
    _ndjson(tmp_path, "b.ndjson")
    conflict = {"id": "x", "type": "lens", "error": {"type": "missing_references"}}
    kibana = FakeKibana(
        {
            "a.ndjson": httpx.Response(
                200, json={"success": False, "successCount": 0, "errors": [conflict]}
            ),
            "b.ndjson": httpx.Response(200, json={"success": True, "successCount": 3}),
        }
    )
    with httpx.Client(base_url="http://k", transport=httpx.MockTransport(kibana)) as client:
        first, second = kibana_import.import_all(client, tmp_path)
    assert not first.success and first.errors == [conflict]
    assert second.success and second.imported == 3


def test_parse_import_response_counts_http_errors_as_failures(kibana_import) -> None:
    result = kibana_import.parse_import_response(Path("x.ndjson"), 401, {"message": "no"})
    assert not result.success and result.errors[0]["status"] == 401
    result = kibana_import.parse_import_response(Path("x.ndjson"), 200, "not json")
    assert not result.success


def test_default_objects_dir_is_the_one_source_of_truth(kibana_import) -> None:
    assert kibana_import.DEFAULT_OBJECTS_DIR == REPO_ROOT / "index_mappings" / "kibana"


def test_import_retries_while_kibana_starts(kibana_import, tmp_path: Path) -> None:
    """Kibana answers 503 until it is ready: the file is retried, not failed."""
    _ndjson(tmp_path, "a.ndjson")
    answers = iter(
        [
            httpx.Response(503, json={"message": "Kibana server is not ready yet"}),
            httpx.Response(200, json={"success": True, "successCount": 2}),
        ]
    )
    transport = httpx.MockTransport(lambda request: next(answers))
    with httpx.Client(base_url="http://k", transport=transport) as client:
        (result,) = kibana_import.import_all(client, tmp_path)
    assert result.success and result.imported == 2
