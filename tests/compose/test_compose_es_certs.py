"""deploy/es-certs.sh for real: Elasticsearch's own certutil (from the local Maven Central
distribution that kzmon.localstack.es_node fetches) makes the stack's CA and node certificate.

Only the certificates are checked here. A secured node cannot exercise deploy/es_setup.py on
this distribution: it lacks analysis-common, which the `.security` index needs, so no native
users or roles can be stored (tested with the `elastic` bootstrap password: TLS works, the
first password change fails with "Unknown filter type [pattern_capture]").
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kzmon.localstack.es_node import ensure_distribution, find_java_home
from kzmon.settings import get_settings

from .conftest import REPO_ROOT

pytestmark = pytest.mark.slow

#: What docker-compose.yml's es-certs service passes (every Elasticsearch host name).
CERT_DNS = "elasticsearch,es01,es02,es03,localhost"


def _run_es_certs(certs_dir: Path, marker: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ES_HOME": str(ensure_distribution(get_settings().state_dir)),
        "ES_JAVA_HOME": str(find_java_home()),
        "CERTS_DIR": str(certs_dir),
        "CERTS_OWNER": f"{os.getuid()}:{os.getgid()}",
        "ES_CERT_DNS": CERT_DNS,
        "DONE_MARKER": str(marker),
    }
    env.pop("JAVA_HOME", None)
    return subprocess.run(
        ["bash", str(REPO_ROOT / "deploy" / "es-certs.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _openssl(*args: str) -> str:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to inspect the certificates"
    result = subprocess.run([openssl, *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def certs(unzip: str) -> Iterator[Path]:
    """The certs folder after es-certs.sh ran twice (the second run must change nothing)."""
    work = Path(tempfile.mkdtemp(prefix="kzmon-compose-certs-"))
    certs_dir, marker = work / "certs", work / "done"
    try:
        first = _run_es_certs(certs_dir, marker)
        assert first.returncode == 0, first.stdout + first.stderr
        assert marker.exists()
        ca_before = (certs_dir / "ca" / "ca.crt").read_bytes()
        second = _run_es_certs(certs_dir, marker)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "creating" not in second.stdout
        assert (certs_dir / "ca" / "ca.crt").read_bytes() == ca_before
        yield certs_dir
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_node_certificate_is_signed_by_the_stack_ca(certs: Path) -> None:
    out = _openssl(
        "verify", "-CAfile", str(certs / "ca" / "ca.crt"), str(certs / "node" / "node.crt")
    )
    assert out.strip().endswith(": OK")


def test_node_certificate_names_every_elasticsearch_host(certs: Path) -> None:
    node_crt = str(certs / "node" / "node.crt")
    out = _openssl("x509", "-in", node_crt, "-noout", "-ext", "subjectAltName")
    for host in CERT_DNS.split(","):
        assert f"DNS:{host}" in out, host
    assert "IP Address:127.0.0.1" in out


def test_key_permissions(certs: Path) -> None:
    def mode(path: str) -> int:
        return stat.S_IMODE((certs / path).stat().st_mode)

    assert mode("ca/ca.crt") == 0o644  # Kibana and kzmon read it
    assert mode("node/node.key") == 0o640  # Elasticsearch (owner) only
    assert mode("ca/ca.key") == 0o600  # nobody but the job


def test_compose_passes_the_same_host_names(base_config: dict) -> None:
    es_certs = base_config["services"]["es-certs"]
    assert es_certs["environment"]["ES_CERT_DNS"] == CERT_DNS
    kibana_hosts = base_config["services"]["kibana"]["environment"]["ELASTICSEARCH_HOSTS"]
    assert kibana_hosts == "https://elasticsearch:9200"
