"""The replay's HTTP server: every outlet's site on 127.0.0.1, addressed as ``/<host>/<path>``.

``GET {replay}/www.themoscowtimes.com/rss/news`` answers what ``https://www.themoscowtimes.com/
rss/news`` would. Crawls reach it through `spiders.transport` when ``KZMON_REPLAY_URL`` is set.
Every request is appended to ``requests.jsonl`` in the run folder (real URL, status and the
conditional-request headers), so tests can check what a crawl fetched.

Modelled on `kzmon.localstack.smtp_server`: ``serve`` runs in the foreground; `start_replay`
starts it in the background, records ``replay.json`` (pid, url) and waits until it listens.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kzmon.localstack.listeners import (
    PortInUseError,
    ServiceStartError,
    ensure_port_free,
    owns_listener,
    wait_for_own_listener,
)
from kzmon.localstack.ports import free_port, pid_alive, terminate
from spiders.replay.site import ReplayResponse, ReplaySite, load_site

LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"
_MODULE = "spiders.replay"
_LOGGED_HEADERS = ("If-None-Match", "If-Modified-Since", "User-Agent")


def real_url(path: str) -> str:
    """The outlet URL a replay path stands for: ``/host/x?y`` -> ``https://host/x?y``."""
    host, _, rest = path.lstrip("/").partition("/")
    return f"https://{host}/{rest}"


class _Handler(BaseHTTPRequestHandler):
    site: ReplaySite
    log_path: Path | None
    limited_once: set[str]
    lock = threading.Lock()
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        """No Nagle delay: headers and body leave in separate writes."""
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        url = real_url(self.path)
        headers = {k: v for k, v in self.headers.items()}
        response = self._rate_limit(url) or self.site.response_for(url, headers)
        if response.delay:
            time.sleep(response.delay)
        self._record(url, response.status, headers)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if with_body:
            try:
                self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                LOGGER.info("client closed the connection during %s", url)

    def _rate_limit(self, url: str) -> ReplayResponse | None:
        """429 with Retry-After for the first request of a rate-limited page (dirt.yaml)."""
        retry_after = self.site.rate_limited.get(url)
        if retry_after is None:
            return None
        with self.lock:
            if url in self.limited_once:
                return None
            self.limited_once.add(url)
        headers = {"Retry-After": f"{retry_after:g}", "Content-Type": "text/plain"}
        return ReplayResponse(429, headers, b"Too Many Requests")

    def _record(self, url: str, status: int, headers: dict[str, str]) -> None:
        if self.log_path is None:
            return
        entry = {"t": time.time(), "url": url, "status": status}
        entry.update({h: headers[h] for h in _LOGGED_HEADERS if h in headers})
        with self.lock, open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")

    def log_message(self, format: str, *args: object) -> None:
        LOGGER.debug(format, *args)


def serve(
    port: int,
    *,
    shared_dir: Path | None = None,
    quiet_outlets: list[str] | tuple[str, ...] = (),
    log_path: Path | None = None,
    no_delay: bool = False,
) -> None:
    """Run the server in the foreground until SIGTERM/SIGINT (``no_delay``: no slow page)."""
    site = load_site(shared_dir, quiet_outlets)
    if no_delay:
        site.slow.clear()
    attributes = {"site": site, "log_path": log_path, "limited_once": set()}
    handler = type("ReplayHandler", (_Handler,), attributes)
    httpd = ThreadingHTTPServer((HOST, port), handler)
    httpd.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    LOGGER.info("replay on http://%s:%s (quiet: %s)", HOST, port, list(quiet_outlets))
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        LOGGER.info("interrupted")
    finally:
        httpd.server_close()


@dataclass
class ReplayInfo:
    """What `start_replay` records about a running replay server."""

    pid: int
    url: str


def read_requests(run_dir: Path) -> list[dict]:
    """Every request the replay started in ``run_dir`` has answered, oldest first."""
    path = Path(run_dir) / "requests.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def start_replay(
    run_dir: Path,
    port: int | None = None,
    quiet_outlets: list[str] | tuple[str, ...] = (),
    *,
    no_delay: bool = False,
) -> ReplayInfo:
    """Start the replay in the background (idempotent); wait until *its* process listens.

    Fails with `PortInUseError` (naming the holder) when another process holds the port.
    """
    run_dir = Path(run_dir)
    info_file = run_dir / "replay.json"
    if info_file.exists():
        info = ReplayInfo(**json.loads(info_file.read_text()))
        port_now = int(info.url.rsplit(":", 1)[1])
        if port in (None, port_now) and pid_alive(info.pid) and owns_listener(info.pid, port_now):
            return info
    run_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    ensure_port_free(port, "replay server", HOST)
    command = [sys.executable, "-m", _MODULE, "serve", "--port", str(port)]
    command += ["--log", str(run_dir / "requests.jsonl")]
    for outlet_id in quiet_outlets:
        command += ["--quiet", outlet_id]
    if no_delay:
        command.append("--no-delay")
    with open(run_dir / "replay.log", "ab") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        log = run_dir / "replay.log"
        wait_for_own_listener(proc.pid, port, "replay server", timeout=30, log=log)
    except (PortInUseError, ServiceStartError):
        terminate(proc.pid)
        proc.wait()
        raise
    info = ReplayInfo(proc.pid, f"http://{HOST}:{port}")
    info_file.write_text(json.dumps(asdict(info)))
    return info


def stop_replay(run_dir: Path) -> bool:
    """Stop the recorded replay server by PID; True if one was running."""
    info_file = Path(run_dir) / "replay.json"
    if not info_file.exists():
        return False
    info = ReplayInfo(**json.loads(info_file.read_text()))
    info_file.unlink()
    return terminate(info.pid)
