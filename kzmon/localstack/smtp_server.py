"""A real SMTP server for tests and the demo: aiosmtpd on 127.0.0.1, saving every message.

Each received message is written to the mailbox folder as ``<n>-<timestamp>.eml`` (the raw
RFC 5322 bytes, with the envelope in ``X-Envelope-From``/``X-Envelope-To`` headers) so tests
and the demo read back exactly what a mail client would get.

Usage::

    python -m kzmon.localstack.smtp_server serve --port 8025 --mailbox DIR  # foreground
    python -m kzmon.localstack.smtp_server up    # background; prints host:port
    python -m kzmon.localstack.smtp_server down
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from kzmon.localstack.listeners import (
    PortInUseError,
    ServiceStartError,
    ensure_port_free,
    owns_listener,
    wait_for_own_listener,
)
from kzmon.localstack.ports import free_port, pid_alive, terminate
from kzmon.settings import get_settings

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP, Envelope, Session

LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"
_MODULE = "kzmon.localstack.smtp_server"


class MailboxHandler:
    """aiosmtpd handler that stores each message as a file in a folder."""

    def __init__(self, mailbox: Path) -> None:
        self.mailbox = mailbox
        self.mailbox.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Save the message; answer 250 when it is on disk."""
        with self._lock:
            count = len(list(self.mailbox.glob("*.eml")))
            name = f"{count + 1:06d}-{time.time_ns()}.eml"
            headers = (
                f"X-Envelope-From: {envelope.mail_from}\r\n"
                f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
            ).encode()
            tmp = self.mailbox / (name + ".tmp")
            tmp.write_bytes(headers + envelope.original_content)
            tmp.rename(self.mailbox / name)
        LOGGER.info("stored message for %s as %s", envelope.rcpt_tos, name)
        return "250 Message accepted for delivery"


def serve(port: int, mailbox: Path) -> None:
    """Run the server in the foreground until SIGTERM/SIGINT."""
    from aiosmtpd.controller import Controller

    controller = Controller(MailboxHandler(mailbox), hostname=HOST, port=port)
    controller.start()
    LOGGER.info("SMTP server on %s:%s, mailbox %s", HOST, port, mailbox)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


def read_mailbox(mailbox: Path) -> list[EmailMessage]:
    """Every message in the mailbox, oldest first, parsed."""
    messages = []
    for path in sorted(Path(mailbox).glob("*.eml")):
        with open(path, "rb") as fh:
            messages.append(email.message_from_binary_file(fh, policy=email.policy.default))
    return messages


@dataclass
class SmtpInfo:
    """What `up` records about a running server."""

    pid: int
    host: str
    port: int
    mailbox: str


def start_server(
    run_dir: Path, mailbox: Path, port: int | None = None, *, default_port: int | None = None
) -> SmtpInfo:
    """Start the server as a background process (idempotent); wait until *it* listens.

    A server already recorded in ``run_dir`` is reused unless another ``port`` is asked for;
    a new one listens on ``port``, else ``default_port``, else a free port. Fails with
    `PortInUseError` (naming the holder) when another process holds the port: mail would
    otherwise go to that server while we report success.
    """
    info_file = run_dir / "smtp.json"
    if info_file.exists():
        info = SmtpInfo(**json.loads(info_file.read_text()))
        same = port in (None, info.port) and Path(info.mailbox) == Path(mailbox)
        if same and pid_alive(info.pid) and owns_listener(info.pid, info.port):
            return info
    run_dir.mkdir(parents=True, exist_ok=True)
    port = port or default_port or free_port()
    ensure_port_free(port, "SMTP server", HOST)
    log_path = run_dir / "smtp.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                _MODULE,
                "serve",
                "--port",
                str(port),
                "--mailbox",
                str(mailbox),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_own_listener(proc.pid, port, "SMTP server", timeout=30, log=log_path)
    except (PortInUseError, ServiceStartError):
        terminate(proc.pid)
        proc.wait()
        raise
    info = SmtpInfo(proc.pid, HOST, port, str(mailbox))
    info_file.write_text(json.dumps(asdict(info)))
    return info


def stop_server(run_dir: Path) -> bool:
    """Stop the recorded server by PID; True if one was running."""
    info_file = run_dir / "smtp.json"
    if not info_file.exists():
        return False
    info = SmtpInfo(**json.loads(info_file.read_text()))
    info_file.unlink()
    return terminate(info.pid)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``serve`` | ``up`` | ``down``."""
    parser = argparse.ArgumentParser(prog="python -m kzmon.localstack.smtp_server")
    parser.add_argument("action", choices=["serve", "up", "down"])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--mailbox", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    run_dir = settings.state_dir / "smtp"
    mailbox = args.mailbox or run_dir / "mailbox"
    if args.action == "serve":
        serve(args.port or settings.smtp_port, mailbox)
        return 0
    if args.action == "up":
        try:
            explicit = args.port or (settings.smtp_port if os.environ.get("SMTP_PORT") else None)
            info = start_server(run_dir, mailbox, explicit, default_port=settings.smtp_port)
        except (PortInUseError, ServiceStartError) as exc:
            print(f"smtp-up failed: {exc}", file=sys.stderr)
            return 1
        print(f"{info.host}:{info.port}")
        return 0
    print("stopped" if stop_server(run_dir) else "not running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
