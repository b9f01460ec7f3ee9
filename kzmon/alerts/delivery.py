"""SMTP delivery of alert mails, with retries and backoff.

Settings come from the environment (`kzmon.settings.get_settings()`: ``SMTP_HOST``,
``SMTP_PORT``, ``SMTP_USER``, ``SMTP_PASSWORD``, ``SMTP_STARTTLS``, ``SMTP_SSL``,
``SMTP_CA_CERTS``, ``SMTP_ALLOW_INSECURE_AUTH``, ``KZMON_MAIL_FROM``), or from an Airflow
connection when ``KZMON_SMTP_CONN_ID`` names one (e.g. ``smtp_default``, defined by
``AIRFLOW_CONN_SMTP_DEFAULT``): its host, port, login and password, and the extras
``starttls``/``ssl`` (or the SMTP provider's ``disable_tls``/``disable_ssl``) and
``from_email``.

**Credentials never travel in clear text by default.** With a user name set, the connection
must be TLS (``SMTP_SSL``) or upgraded with STARTTLS (``SMTP_STARTTLS``; a server that does
not offer STARTTLS is refused, never silently used without it); the certificate is verified
(against ``SMTP_CA_CERTS`` when set). Logging in over a plain connection needs
``SMTP_ALLOW_INSECURE_AUTH=true`` (a relay on a trusted local network); otherwise the mail is
refused with `InsecureSmtpAuth` before anything is sent, and no retry is made.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from kzmon.settings import get_settings
from kzmon.textsafety import neutralise_message

LOGGER = logging.getLogger(__name__)

CONN_ID_ENV = "KZMON_SMTP_CONN_ID"
#: Errors worth retrying: the server is down, refused us for now, or the network failed.
RETRYABLE = (smtplib.SMTPException, OSError)


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send mail."""

    host: str
    port: int
    user: str = ""
    password: str = ""
    starttls: bool = False
    ssl: bool = False
    mail_from: str = "kzmon alerts <alerts@kzmon.localhost>"
    timeout: float = 20.0
    #: log in over a connection without TLS (off: credentials are never sent in clear text)
    allow_insecure_auth: bool = False
    #: CA bundle that verifies the server's certificate (default: the system's)
    ca_certs: str = ""


class DeliveryError(RuntimeError):
    """A mail could not be delivered after every retry."""


class InsecureSmtpAuth(DeliveryError):
    """Refused: the settings would send the SMTP password over a connection without TLS."""


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def smtp_config(timeout: float = 20.0) -> SmtpConfig:
    """The SMTP settings: the Airflow connection named by ``KZMON_SMTP_CONN_ID``, else env."""
    settings = get_settings()
    conn_id = os.environ.get(CONN_ID_ENV, "").strip()
    if conn_id:
        return _from_airflow_connection(conn_id, settings.mail_from, timeout)
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        ssl=settings.smtp_ssl,
        mail_from=settings.mail_from,
        timeout=timeout,
        allow_insecure_auth=settings.smtp_allow_insecure_auth,
        ca_certs=settings.smtp_ca_certs,
    )


def _from_airflow_connection(conn_id: str, default_from: str, timeout: float) -> SmtpConfig:
    from airflow.sdk import Connection  # heavy import: only when a connection is named

    conn = Connection.get(conn_id)
    extra = conn.extra_dejson or {}
    settings = get_settings()
    use_ssl = _flag(extra, ("ssl", "use_ssl"), "disable_ssl")
    return SmtpConfig(
        host=conn.host or "127.0.0.1",
        port=int(conn.port or (465 if use_ssl else 25)),
        user=conn.login or "",
        password=conn.password or "",
        starttls=_flag(extra, ("starttls", "use_starttls"), "disable_tls"),
        ssl=use_ssl,
        mail_from=str(extra.get("from_email") or default_from),
        timeout=float(extra.get("timeout", timeout)),
        allow_insecure_auth=settings.smtp_allow_insecure_auth
        or _truthy(extra.get("allow_insecure_auth", False)),
        ca_certs=str(extra.get("ca_certs") or settings.smtp_ca_certs),
    )


def _flag(extra: dict[str, Any], names: tuple[str, ...], disable: str) -> bool:
    """A connection extra: ours (``starttls``) first, else the provider's ``disable_tls``.

    The SMTP provider's own default (TLS on when ``disable_*`` is absent) is not assumed:
    without either key the flag is off, as it always was here.
    """
    for name in names:
        if name in extra:
            return _truthy(extra[name])
    if disable in extra:
        return not _truthy(extra[disable])
    return False


def check_auth_policy(config: SmtpConfig) -> None:
    """Raise `InsecureSmtpAuth` when a login would cross a connection without TLS."""
    if config.user and not (config.ssl or config.starttls) and not config.allow_insecure_auth:
        raise InsecureSmtpAuth(
            f"refusing to send the SMTP password for {config.user!r} to "
            f"{config.host}:{config.port} without TLS: set SMTP_STARTTLS=true or "
            "SMTP_SSL=true, or SMTP_ALLOW_INSECURE_AUTH=true for a trusted local relay"
        )


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.ca_certs or None)


def _send_once(config: SmtpConfig, message: EmailMessage) -> None:
    check_auth_policy(config)
    if config.ssl:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=_tls_context(config)
        )
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with smtp:
        if config.starttls and not config.ssl:
            _starttls(smtp, config)
        if config.user:
            smtp.login(config.user, config.password)
        smtp.send_message(message)


def _starttls(smtp: smtplib.SMTP, config: SmtpConfig) -> None:
    """Upgrade to TLS; a server that does not offer STARTTLS is refused (no downgrade)."""
    try:
        smtp.starttls(context=_tls_context(config))
    except smtplib.SMTPNotSupportedError as exc:
        raise InsecureSmtpAuth(
            f"{config.host}:{config.port} does not offer STARTTLS (SMTP_STARTTLS is set): "
            "not sending without TLS"
        ) from exc


def send_message(
    message: EmailMessage,
    config: SmtpConfig | None = None,
    *,
    attempts: int = 4,
    backoff_seconds: float = 2.0,
) -> int:
    """Send one message, retrying with exponential backoff; returns the attempts used.

    Raises `DeliveryError` (with the last error as its cause) when every attempt failed.
    """
    config = config or smtp_config()
    if not message["From"]:
        message["From"] = config.mail_from
    neutralise_message(message)
    check_auth_policy(config)  # a setting, not a transient failure: no retry
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff_seconds, max=max(backoff_seconds, 60)),
        retry=retry_if_exception_type(RETRYABLE) & retry_if_not_exception_type(InsecureSmtpAuth),
        before_sleep=before_sleep_log(LOGGER, logging.WARNING),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                _send_once(config, message)
    except InsecureSmtpAuth:
        raise
    except RETRYABLE as exc:
        raise DeliveryError(
            f"could not send to {config.host}:{config.port} after {attempts} attempts: {exc}"
        ) from exc
    return retrying.statistics.get("attempt_number", 1)
