"""Fixtures for the docker-compose checks: Debian's `docker-compose` (v1) and the resolved files.

No Docker engine runs on these machines: `docker-compose config` only parses, validates,
interpolates (with .env.example) and merges the files, which is what these tests need. When
`docker-compose` is not on PATH the session installs Debian's package with apt (root, bookworm).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_FILE = REPO_ROOT / "docker-compose.yml"
SCALE_FILE = REPO_ROOT / "docker-compose.scale.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
APT_TIMEOUT_S = 600


def _apt_get(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=APT_TIMEOUT_S,
        check=False,
    )


def _install_debian_package(package: str) -> None:
    """Install a Debian package without its recommendations (docker-compose: no Docker engine)."""
    assert shutil.which("apt-get"), f"{package} is missing and apt-get is not available"
    assert os.geteuid() == 0, f"{package} is missing; installing it needs root"
    install = ("install", "-y", "-q", "--no-install-recommends", package)
    result = _apt_get(*install)
    if result.returncode != 0:  # a fresh machine has no package lists yet
        update = _apt_get("update", "-q")
        assert update.returncode == 0, update.stderr[-2000:]
        result = _apt_get(*install)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.fixture(scope="session")
def docker_compose() -> str:
    """Path of Debian's `docker-compose` v1, installed on first use."""
    if not shutil.which("docker-compose"):
        _install_debian_package("docker-compose")
    path = shutil.which("docker-compose")
    assert path, "docker-compose still not on PATH after installing it"
    return path


def clean_env() -> dict[str, str]:
    """An environment without the variables the rest of the suite sets (SMTP_PORT, ES_URL...).

    Shell variables win over the env file in compose's interpolation, so the checks run with
    nothing but PATH and HOME to see exactly what .env.example gives.
    """
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}


def run_compose(
    docker_compose: str, *files: Path, env_file: Path = ENV_EXAMPLE, args: tuple = ("config",)
) -> subprocess.CompletedProcess:
    """Run `docker-compose --env-file ENV -f FILE... ARGS` in the repository."""
    command = [docker_compose, "--env-file", str(env_file)]
    for file in files:
        command += ["-f", str(file)]
    return subprocess.run(
        [*command, *args],
        cwd=REPO_ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _resolved(docker_compose: str, *files: Path) -> dict[str, Any]:
    result = run_compose(docker_compose, *files)
    assert result.returncode == 0, result.stderr[-4000:]
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="session")
def base_config(docker_compose: str) -> dict[str, Any]:
    """docker-compose.yml as `docker-compose config` resolves it with .env.example."""
    return _resolved(docker_compose, BASE_FILE)


@pytest.fixture(scope="session")
def scale_config(docker_compose: str) -> dict[str, Any]:
    """docker-compose.yml merged with docker-compose.scale.yml, resolved with .env.example."""
    return _resolved(docker_compose, BASE_FILE, SCALE_FILE)


@pytest.fixture(scope="session")
def raw_files() -> dict[str, Any]:
    """Both compose files as PyYAML reads them (before interpolation), by file name."""
    return {p.name: yaml.safe_load(p.read_text()) for p in (BASE_FILE, SCALE_FILE)}


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    """The KEY=value lines of .env.example."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def load_deploy_module(name: str) -> ModuleType:
    """Import deploy/<name>.py (a script folder, not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"kzmon_deploy_{name}", REPO_ROOT / "deploy" / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def unzip() -> str:
    """`unzip` (deploy/es-certs.sh unpacks certutil's zip files), installed on first use."""
    if not shutil.which("unzip"):
        _install_debian_package("unzip")
    path = shutil.which("unzip")
    assert path
    return path
