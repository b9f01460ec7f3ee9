"""The local Elasticsearch is real: a 9.x build that indexes and searches documents."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kzmon.es import cluster_info
from kzmon.localstack.ports import pid_alive

pytestmark = pytest.mark.integration


def test_get_root_reports_an_elasticsearch_9_build(es_url: str, es) -> None:
    """GET / answers as Elasticsearch; without rest-root, _nodes names the 9.x build."""
    try:
        with urllib.request.urlopen(es_url + "/") as resp:
            body = json.loads(resp.read())
            assert body["version"]["number"].startswith("9.")
            return
    except urllib.error.HTTPError as exc:
        # The stripped distribution has no rest-root module: GET / is 405, but it is still
        # Elasticsearch answering (product header) and _nodes reports the build.
        assert exc.code == 405
        assert exc.headers.get("X-elastic-product") == "Elasticsearch"
    info = cluster_info(es)
    assert info.major == 9
    assert len(info.build_hash) == 40
    assert not info.has("analysis-common")  # stripped down, as documented


def test_index_and_search_documents(es) -> None:
    """Documents indexed on the real node come back from a full-text search."""
    index = "kzmon-foundation-test"
    es.options(ignore_status=404).indices.delete(index=index)
    docs = [
        {"title": "Explosion in Atyrau", "text": "Two blasts hit Atyrau on Monday."},
        {"title": "Grain harvest", "text": "Farmers in Kostanay report a record harvest."},
    ]
    for i, doc in enumerate(docs):
        es.index(index=index, id=str(i), document=doc)
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"match": {"text": "blasts"}})["hits"]["hits"]
    assert [h["_source"]["title"] for h in hits] == ["Explosion in Atyrau"]
    es.indices.delete(index=index)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kzmon.localstack.es_node", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _node_pids(node_dir: Path) -> list[int]:
    """Elasticsearch JVMs whose configuration folder is this node's."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"ES_PATH_CONF={node_dir}/config".encode() in environ:
            pids.append(int(proc.name))
    return pids


@pytest.mark.slow
def test_es_up_is_idempotent_and_es_down_leaves_nothing() -> None:
    """`up` twice starts one node and prints its URL last; `down` stops it by PID."""
    tmp = Path(tempfile.mkdtemp(prefix="kzmon-es-up-"))
    tmp.chmod(0o755)  # the node may run as `nobody`
    node_dir = tmp / "node"
    try:
        _up_twice_then_down(node_dir)
    finally:
        _cli("down", "--dir", str(node_dir))
        shutil.rmtree(tmp, ignore_errors=True)


def _up_twice_then_down(node_dir: Path) -> None:
    first = _cli("up", "--dir", str(node_dir))
    assert first.returncode == 0, first.stderr
    url = first.stdout.strip().splitlines()[-1]
    assert url.startswith("http://127.0.0.1:")
    pid = json.loads((node_dir / "node.json").read_text())["pid"]
    with urllib.request.urlopen(url + "/_cluster/health") as resp:
        assert resp.headers["X-elastic-product"] == "Elasticsearch"
    second = _cli("up", "--dir", str(node_dir))
    assert second.stdout.strip().splitlines()[-1] == url
    assert json.loads((node_dir / "node.json").read_text())["pid"] == pid
    assert _node_pids(node_dir) == [pid]
    down = _cli("down", "--dir", str(node_dir))
    assert down.returncode == 0
    assert not pid_alive(pid)
    assert _node_pids(node_dir) == []
    assert _cli("status", "--dir", str(node_dir)).returncode == 1
    _restart_keeps_the_port(node_dir, url)


def _restart_keeps_the_port(node_dir: Path, url: str) -> None:
    """Issue 13, item 12: whatever pinned ES_URL keeps working after `es-down` + `es-up`;
    when a stranger took the port meanwhile, `es-up` says so instead of moving."""
    again = _cli("up", "--dir", str(node_dir))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == url
    assert _cli("down", "--dir", str(node_dir)).returncode == 0
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as stranger:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stranger.bind(("127.0.0.1", port))
        stranger.listen()
        taken = _cli("up", "--dir", str(node_dir))
    assert taken.returncode == 1
    assert f"127.0.0.1:{port}" in taken.stderr and f"pid {os.getpid()}" in taken.stderr
    assert "ES_URL" in taken.stderr
    assert _node_pids(node_dir) == []
