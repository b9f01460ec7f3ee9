"""The SMTP server is real: a mail sent with smtplib is read back from the mailbox."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

pytestmark = pytest.mark.integration


def test_send_and_read_back(smtp_server: tuple[str, int], mailbox) -> None:
    host, port = smtp_server
    msg = EmailMessage()
    msg["From"] = "alerts@kzmon.localhost"
    msg["To"] = "analyst@example.org"
    msg["Subject"] = "Тест: Ақтөбе"
    msg.set_content("Body with Kazakh letters: Жаңаөзен")
    with smtplib.SMTP(host, port, timeout=10) as client:
        client.send_message(msg)
    [received] = mailbox.messages()
    assert received["Subject"] == "Тест: Ақтөбе"
    assert received["X-Envelope-To"] == "analyst@example.org"
    assert "Жаңаөзен" in received.get_content()
