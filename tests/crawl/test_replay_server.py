"""The replay server as a process: start, serve real URLs under /<host>/, log, quiet, stop."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import feedparser
import pytest

from kzmon.localstack.ports import pid_alive
from spiders.replay.server import read_requests, start_replay, stop_replay

pytestmark = pytest.mark.integration


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_quiet_replay_serves_an_outlet_that_stopped_publishing(
    tmp_path: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KZMON_SHARED_DIR", str(shared_dir))
    info = start_replay(tmp_path, quiet_outlets=["katehon"])
    try:
        assert start_replay(tmp_path).pid == info.pid  # idempotent
        status, body = _get(f"{info.url}/katehon.com/en/rss.xml")
        assert status == 200
        assert [e for e in feedparser.parse(body).entries if e.get("link")] == []
        status, body = _get(f"{info.url}/www.themoscowtimes.com/rss/news")
        assert status == 200 and len(feedparser.parse(body).entries) >= 5
        status, _ = _get(f"{info.url}/www.rferl.org/a/none/1.html")
        assert status == 404
        logged = read_requests(tmp_path)
        assert [r["url"] for r in logged][:2] == [
            "https://katehon.com/en/rss.xml",
            "https://www.themoscowtimes.com/rss/news",
        ]
    finally:
        assert stop_replay(tmp_path)
    assert not pid_alive(info.pid)
    assert not stop_replay(tmp_path)


def test_up_and_down_from_the_command_line(tmp_path: Path, shared_dir: Path) -> None:
    env = {**os.environ, "KZMON_STATE_DIR": str(tmp_path), "KZMON_SHARED_DIR": str(shared_dir)}
    command = [sys.executable, "-m", "spiders.replay"]
    up = subprocess.run([*command, "up"], env=env, capture_output=True, text=True, check=True)
    url = up.stdout.strip().splitlines()[-1]
    try:
        status, body = _get(f"{url}/rus.azattyq.org/robots.txt")
        assert status == 200 and b"Disallow: /a/preview/" in body
    finally:
        down = subprocess.run([*command, "down"], env=env, capture_output=True, text=True)
    assert down.stdout.strip() == "stopped"


def test_static_folders_are_served_like_a_static_server(
    tmp_path: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KZMON_SHARED_DIR", str(shared_dir))
    overlay, full = tmp_path / "overlay", shared_dir / "outlets" / "feeds" / "rferl-full"
    (overlay / "www.rferl.org").mkdir(parents=True)
    info = start_replay(tmp_path / "run", static_dirs=[overlay, full], route_sets=["hostile"])
    try:
        url = f"{info.url}/www.rferl.org/sitemap.xml"
        request = urllib.request.Request(url)
        with urllib.request.urlopen(request, timeout=10) as response:
            etag, body = response.headers["ETag"], response.read()
            assert response.headers["Last-Modified"]
        assert body == (full / "www.rferl.org" / "sitemap.xml").read_bytes()  # read in place
        assert _get(url, {"If-None-Match": etag})[0] == 304
        (overlay / "www.rferl.org" / "sitemap.xml").write_bytes(body.replace(b"8_1.", b"8_9."))
        status, changed = _get(url, {"If-None-Match": etag})
        assert status == 200 and changed != body  # the overlay's copy wins
        status, page = _get(f"{info.url}/www.rferl.org/a/some-story/33423647.html")
        assert status == 200 and b'property="article:published_time"' in page  # synthetic
        assert _get(f"{info.url}/www.rferl.org/no/such/file.xml")[0] == 404
        status, robots = _get(f"{info.url}/hostile.kzmon.test/robots.txt")
        assert status == 200 and b"Disallow: /a/private-" in robots
    finally:
        assert stop_replay(tmp_path / "run")
