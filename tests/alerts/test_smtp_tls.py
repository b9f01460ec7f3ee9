"""Issue #13 item 13: the SMTP password never crosses a connection without TLS unless a setting
explicitly allows it.

Against real aiosmtpd servers on 127.0.0.1 that offer AUTH over a plain connection
(``auth_require_tls=False``, what a careless relay does), with and without STARTTLS (a
certificate made for the test): a login without TLS is refused before anything is sent
(the server sees no AUTH at all), a STARTTLS setting against a server without STARTTLS is
refused rather than downgraded, an untrusted certificate is refused, and a login over
STARTTLS with a trusted certificate, or over a plain connection with
``SMTP_ALLOW_INSECURE_AUTH=true``, is accepted.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from kzmon.alerts import run_alerts
from kzmon.alerts.delivery import (
    DeliveryError,
    InsecureSmtpAuth,
    SmtpConfig,
    send_message,
    smtp_config,
)
from kzmon.localstack.ports import free_port

from .conftest import article

pytestmark = pytest.mark.integration

USER, PASSWORD = "kzmon", "s3cret-pass"


@dataclass
class Recorder:
    """What the server saw: AUTH attempts (login, password, over TLS?) and messages."""

    logins: list[tuple[str, str, bool]] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password, session.ssl is not None))
        return AuthResult(success=(login, password) == (USER, PASSWORD))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kzmon test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[Any]:
    """Start an AUTH-offering aiosmtpd (``auth_require_tls=False``); with STARTTLS on demand."""
    started: list[Controller] = []

    def _start(*, starttls: bool) -> tuple[int, Recorder, Path]:
        recorder = Recorder()
        cert, key = _certificate(tmp_path)
        tls = None
        if starttls:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(cert, key)
        port = free_port()
        controller = Controller(
            recorder,
            hostname="127.0.0.1",
            port=port,
            authenticator=recorder,
            auth_require_tls=False,
            tls_context=tls,
        )
        controller.start()
        started.append(controller)
        return port, recorder, cert

    yield _start
    for controller in started:
        controller.stop()


def _message() -> EmailMessage:
    message = EmailMessage()
    message["Subject"], message["To"] = "test", "analyst@example.org"
    message.set_content("hello")
    return message


def _config(port: int, **kwargs: Any) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, user=USER, password=PASSWORD, **kwargs)


def test_login_without_tls_is_refused_before_anything_is_sent(auth_server) -> None:
    port, seen, _ = auth_server(starttls=False)
    with pytest.raises(InsecureSmtpAuth, match="without TLS"):
        send_message(_message(), _config(port), attempts=3, backoff_seconds=0.01)
    assert seen.logins == [] and seen.messages == []


def test_login_without_tls_is_accepted_only_when_explicitly_allowed(
    auth_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, seen, _ = auth_server(starttls=False)
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    monkeypatch.delenv("KZMON_SMTP_CONN_ID", raising=False)
    for value in ("", "false", "0", "no"):
        monkeypatch.setenv("SMTP_ALLOW_INSECURE_AUTH", value)
        with pytest.raises(InsecureSmtpAuth):
            send_message(_message(), smtp_config(), attempts=1)
    assert seen.logins == []
    monkeypatch.setenv("SMTP_ALLOW_INSECURE_AUTH", "true")
    send_message(_message(), smtp_config(), attempts=1)
    assert seen.logins == [(USER, PASSWORD, False)] and len(seen.messages) == 1


def test_starttls_setting_against_a_server_without_starttls_is_refused(auth_server) -> None:
    """No silent downgrade: STARTTLS asked for and not offered means no login at all."""
    port, seen, _ = auth_server(starttls=False)
    with pytest.raises(InsecureSmtpAuth, match="STARTTLS"):
        send_message(_message(), _config(port, starttls=True), attempts=2, backoff_seconds=0.01)
    assert seen.logins == [] and seen.messages == []


def test_login_over_starttls_with_a_trusted_certificate(auth_server) -> None:
    port, seen, cert = auth_server(starttls=True)
    send_message(_message(), _config(port, starttls=True, ca_certs=str(cert)), attempts=1)
    assert seen.logins == [(USER, PASSWORD, True)] and len(seen.messages) == 1


def test_an_untrusted_certificate_is_refused(auth_server) -> None:
    port, seen, _ = auth_server(starttls=True)
    with pytest.raises(DeliveryError):
        send_message(_message(), _config(port, starttls=True), attempts=1)
    assert seen.logins == [] and seen.messages == []


def test_an_alerts_run_keeps_matches_pending_until_the_transport_is_safe(
    token, index_records, write_watchlists, auth_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The policy as an analyst meets it: no mail, a recorded error, nothing lost."""
    port, seen, cert = auth_server(starttls=True)
    monkeypatch.delenv("KZMON_SMTP_CONN_ID", raising=False)
    for name, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_USER": USER,
        "SMTP_PASSWORD": PASSWORD,
        "SMTP_STARTTLS": "false",
        "SMTP_ALLOW_INSECURE_AUTH": "false",
    }.items():
        monkeypatch.setenv(name, value)
    wid = f"{token}-tls"
    path = write_watchlists([{"id": wid, "name": wid, "query": token, "recipients": ["a@x.org"]}])
    index_records([article(token, "one")])
    refused = run_alerts(watchlists_path=path)
    assert (refused.emails_sent, refused.pending) == (0, 1)
    assert "without TLS" in refused.errors[0]["error"] and seen.logins == []

    monkeypatch.setenv("SMTP_STARTTLS", "true")
    monkeypatch.setenv("SMTP_CA_CERTS", str(cert))
    delivered = run_alerts(watchlists_path=path)
    assert (delivered.emails_sent, delivered.errors) == (1, [])
    assert seen.logins == [(USER, PASSWORD, True)]


def test_the_airflow_connection_path_follows_the_same_policy(
    auth_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``KZMON_SMTP_CONN_ID`` (compose): the provider's ``disable_tls`` extras are honoured."""
    import json

    port, seen, cert = auth_server(starttls=True)
    monkeypatch.setenv("KZMON_SMTP_CONN_ID", "smtp_kztest")
    monkeypatch.delenv("SMTP_ALLOW_INSECURE_AUTH", raising=False)
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": USER}
    conn["password"] = PASSWORD
    plain = {**conn, "extra": {"disable_tls": True, "disable_ssl": True}}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_KZTEST", json.dumps(plain))
    with pytest.raises(InsecureSmtpAuth):
        send_message(_message(), attempts=1)
    assert seen.logins == []
    tls = {**conn, "extra": {"disable_tls": False, "disable_ssl": True, "ca_certs": str(cert)}}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_KZTEST", json.dumps(tls))
    send_message(_message(), attempts=1)
    assert seen.logins == [(USER, PASSWORD, True)]
