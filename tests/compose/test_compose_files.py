"""The docker-compose stack: valid for docker-compose, healthy, pinned, local, no secrets."""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import elasticsearch
import pytest

from .conftest import BASE_FILE, ENV_EXAMPLE, REPO_ROOT, SCALE_FILE, run_compose

#: `${NAME`, not `$${NAME` (an escaped `$`: the container's shell expands it, not compose).
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|KEY|TOKEN)$")
PINNED_TAG = re.compile(r"^v?\d+(\.\d+)+(-[a-z0-9.]+)?$")
ONE_SHOT_CONDITIONS = {"service_completed_successfully"}
CONDITIONS = {"service_healthy", "service_completed_successfully"}
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)


def _strings(node: Any) -> Iterator[str]:
    """Every string (keys and values) of a parsed YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def _interpolations(raw_files: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(file, variable, modifier) for every `${...}` in both compose files."""
    return [
        (name, m.group(1), m.group(2))
        for name, tree in raw_files.items()
        for text in _strings(tree)
        for m in INTERPOLATION.finditer(text)
    ]


def _image_tag(image: str) -> str:
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""


def _project_version() -> str:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def _dockerfile_from_images() -> list[str]:
    """The FROM images of the Dockerfile with its ARG defaults substituted."""
    text = (REPO_ROOT / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.M))
    images = []
    for image in re.findall(r"^FROM (\S+)", text, flags=re.M):
        images.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image))
    return images


# --- docker-compose itself ---------------------------------------------------------------------


def test_docker_compose_validates_both_files(docker_compose: str) -> None:
    for files in ((BASE_FILE,), (BASE_FILE, SCALE_FILE)):
        result = run_compose(docker_compose, *files, args=("config", "--quiet"))
        assert result.returncode == 0, result.stderr[-4000:]


def test_secrets_have_no_defaults(docker_compose: str, tmp_path: Path) -> None:
    """Without a .env, compose refuses to start and says which secret is missing."""
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    result = run_compose(docker_compose, BASE_FILE, env_file=empty_env)
    assert result.returncode != 0
    assert "in .env" in result.stderr, result.stderr[-2000:]


def test_expected_services(base_config: dict, scale_config: dict) -> None:
    base = set(base_config["services"])
    assert {
        "elasticsearch",
        "kibana",
        "kibana-init",
        "postgres",
        "mailpit",
        "kzmon-init",
        *AIRFLOW_SERVICES,
    } <= base
    assert {"redis", "airflow-worker", "flower", "es02", "es03"} <= set(scale_config["services"])


# --- healthchecks and start-up order -----------------------------------------------------------


@pytest.mark.parametrize("which", ["base_config", "scale_config"])
def test_every_service_has_a_healthcheck(which: str, request: pytest.FixtureRequest) -> None:
    services = request.getfixturevalue(which)["services"]
    for name, service in services.items():
        healthcheck = service.get("healthcheck") or {}
        assert not healthcheck.get("disable"), name
        assert healthcheck.get("test"), f"{name} has no healthcheck"
        assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}, name


@pytest.mark.parametrize("which", ["base_config", "scale_config"])
def test_depends_on_waits_for_health_or_completion(
    which: str, request: pytest.FixtureRequest
) -> None:
    services = request.getfixturevalue(which)["services"]
    one_shots = {n for n, s in services.items() if s.get("restart") == "no"}
    assert {"es-certs", "es-setup", "kibana-init", "kzmon-init"} <= one_shots
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = spec.get("condition")
            assert condition in CONDITIONS, f"{name} -> {dependency}: {condition}"
            if dependency in one_shots:
                assert condition in ONE_SHOT_CONDITIONS, f"{name} -> {dependency}"
            else:
                assert condition == "service_healthy", f"{name} -> {dependency}"


def test_airflow_starts_after_init(base_config: dict) -> None:
    services = base_config["services"]
    for name in AIRFLOW_SERVICES:
        assert "kzmon-init" in services[name]["depends_on"], name
        assert "postgres" in services[name]["depends_on"], name
    assert {"postgres", "elasticsearch", "es-setup"} <= set(services["kzmon-init"]["depends_on"])
    assert "kibana" in services["kibana-init"]["depends_on"]


# --- images and versions -----------------------------------------------------------------------


@pytest.mark.parametrize("which", ["base_config", "scale_config"])
def test_images_are_pinned(which: str, request: pytest.FixtureRequest) -> None:
    for name, service in request.getfixturevalue(which)["services"].items():
        image = service.get("image", "")
        tag = _image_tag(image)
        assert tag and tag != "latest", f"{name}: {image!r} is not pinned"
        if "build" in service:
            assert tag == _project_version(), f"{name}: built image tagged {tag}"
        else:
            assert PINNED_TAG.match(tag), f"{name}: {image!r} is not an exact version"


def test_dockerfile_pins_its_base_images() -> None:
    images = _dockerfile_from_images()
    assert "apache/airflow:3.3.2-python3.11" in images
    assert "ghcr.io/astral-sh/uv:0.13.8" in images
    for image in images:
        assert PINNED_TAG.match(_image_tag(image).split("-python")[0]), image


def test_dockerfile_matches_the_lock_and_the_makefile() -> None:
    """Airflow's version in the image is the locked one; uv's is the Makefile's."""
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"] if "version" in p}
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_VERSION={locked['apache-airflow']}\n" in dockerfile
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv and f"ARG UV_VERSION={makefile_uv.group(1)}\n" in dockerfile


def test_dockerfile_copies_every_package_and_data_folder() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    copied = re.findall(r"^COPY --chown=\S+ (\S+) ", (REPO_ROOT / "Dockerfile").read_text(), re.M)
    for folder in [*packages, "index_mappings", "dags", "deploy"]:
        assert folder in copied, f"Dockerfile does not copy {folder}/"
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    for folder in [*packages, "index_mappings", "dags", "deploy"]:
        assert folder not in ignored


@pytest.mark.parametrize("which", ["base_config", "scale_config"])
def test_elastic_versions_match_each_other_and_the_client(
    which: str, request: pytest.FixtureRequest
) -> None:
    services = request.getfixturevalue(which)["services"]
    es_tags = {
        _image_tag(s["image"])
        for s in services.values()
        if s["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    }
    kibana_tag = _image_tag(services["kibana"]["image"])
    assert es_tags == {kibana_tag}, (es_tags, kibana_tag)
    client_major = elasticsearch.__versionstr__.split(".")[0]
    assert kibana_tag.split(".")[0] == client_major


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["base_config", "scale_config"])
def test_ports_bound_to_localhost(which: str, request: pytest.FixtureRequest) -> None:
    for name, service in request.getfixturevalue(which)["services"].items():
        for port in service.get("ports", []):
            text = port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port}"
            assert text.startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_raw_ports_use_bind_address(raw_files: dict) -> None:
    for file, tree in raw_files.items():
        for name, service in tree["services"].items():
            for port in service.get("ports", []):
                assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{file} {name}: {port}"


def test_every_interpolation_has_a_default_or_is_required(raw_files: dict) -> None:
    for file, variable, modifier in _interpolations(raw_files):
        assert modifier.startswith((":-", ":?")), f"{file}: ${{{variable}{modifier}}}"
        if SECRET_NAME.search(variable) and modifier.startswith(":-"):
            assert modifier == ":-", f"{file}: secret {variable} has a default"


def test_env_example_lists_exactly_the_variables_used(raw_files: dict, env_example: dict) -> None:
    used = {variable for _, variable, _ in _interpolations(raw_files)}
    listed = set(env_example) - {"COMPOSE_PROJECT_NAME"}
    assert used - listed == set(), "used but not in .env.example"
    assert listed - used == set(), "in .env.example but unused"


def test_env_example_defaults_match_the_compose_defaults(
    raw_files: dict, env_example: dict
) -> None:
    """`cp .env.example .env` changes nothing but the secrets."""
    for file, variable, modifier in _interpolations(raw_files):
        if modifier.startswith(":-"):
            assert env_example[variable] == modifier[2:], f"{file}: {variable}"


# --- secrets -----------------------------------------------------------------------------------


def test_no_secret_in_the_compose_files(raw_files: dict) -> None:
    """Secret-named settings only ever come from the environment (.env)."""
    for file, tree in raw_files.items():
        for name, service in tree["services"].items():
            environment = service.get("environment") or {}
            for key, value in environment.items():
                if SECRET_NAME.search(key) and value:
                    assert str(value).startswith("${"), f"{file} {name}: {key}"


def test_env_example_holds_placeholders_only(env_example: dict) -> None:
    for key, value in env_example.items():
        if SECRET_NAME.search(key):
            assert value == "" or value.startswith("change-me"), key
    assert len(env_example["KIBANA_ENCRYPTION_KEY"]) >= 32


def test_dot_env_is_ignored_and_untracked() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT, check=False
    ).returncode
    assert ignored == 0, ".env must be git-ignored"
    tracked = subprocess.run(
        ["git", "ls-files", ".env"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert tracked.stdout.strip() == ""
    assert ENV_EXAMPLE.exists()


# --- the scale-out override --------------------------------------------------------------------


def test_scale_runs_celery_with_several_workers(scale_config: dict) -> None:
    services = scale_config["services"]
    for name in (*AIRFLOW_SERVICES, "airflow-worker", "flower", "kzmon-init"):
        assert services[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
    worker = services["airflow-worker"]
    assert int(worker["deploy"]["replicas"]) >= 2
    assert worker["environment"]["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    # as `make up-scale` found: a bare db+postgresql:// makes SQLAlchemy 2.1 import psycopg 3
    backend = worker["environment"]["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend.startswith("db+postgresql+psycopg2://"), backend
    assert "redis" in worker["depends_on"]


def test_scale_worker_environment_equals_the_scheduler(scale_config: dict) -> None:
    """The worker repeats the Airflow/kzmon environment of docker-compose.yml: it must not drift."""
    services = scale_config["services"]
    worker = dict(services["airflow-worker"]["environment"])
    worker.pop("DUMB_INIT_SETSID")
    assert worker == services["airflow-scheduler"]["environment"]
    assert services["airflow-worker"]["volumes"] == services["airflow-scheduler"]["volumes"]


def test_scale_has_three_elasticsearch_nodes(scale_config: dict) -> None:
    services = scale_config["services"]
    nodes = {name: services[name]["environment"] for name in ("elasticsearch", "es02", "es03")}
    names = {env["node.name"] for env in nodes.values()}
    assert names == {"es01", "es02", "es03"}
    assert len({env["cluster.name"] for env in nodes.values()}) == 1
    hosts = set(nodes)
    for host, env in nodes.items():
        assert env["discovery.type"] == "multi-node", host
        assert set(env["cluster.initial_master_nodes"].split(",")) == names, host
        assert set(env["discovery.seed_hosts"].split(",")) == hosts - {host}, host
        assert env["xpack.security.enabled"] == "true", host
    data_volumes = {v.split(":")[0] for n in nodes for v in services[n]["volumes"] if "/data" in v}
    assert data_volumes == {"es01-data", "es02-data", "es03-data"}
    assert "es02:9200" in services["kibana"]["environment"]["ELASTICSEARCH_HOSTS"]


def test_single_node_is_secured(base_config: dict) -> None:
    env = base_config["services"]["elasticsearch"]["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "true"
    assert env["xpack.security.http.ssl.enabled"] == "true"
    kzmon_env = base_config["services"]["airflow-scheduler"]["environment"]
    assert kzmon_env["ES_URL"] == "https://elasticsearch:9200"
    assert kzmon_env["ES_CA_CERTS"] == "/certs/ca/ca.crt"
    assert kzmon_env["SMTP_HOST"] == "mailpit"
    assert kzmon_env["SMTP_PORT"] == "1025"
