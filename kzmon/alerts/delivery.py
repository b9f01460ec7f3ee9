"""SMTP delivery of alert mails, with retries and backoff.

Settings come from the environment (`kzmon.settings.get_settings()`: ``SMTP_HOST``,
``SMTP_PORT``, ``SMTP_USER``, ``SMTP_PASSWORD``, ``SMTP_STARTTLS``, ``SMTP_SSL``,
``KZMON_MAIL_FROM``), or from an Airflow connection when ``KZMON_SMTP_CONN_ID`` names one
(e.g. ``smtp_default``, defined by ``AIRFLOW_CONN_SMTP_DEFAULT``): its host, port, login and
password, and the extras ``starttls``/``ssl``/``from_email``.
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
    stop_after_attempt,
    wait_exponential,
)

from kzmon.settings import get_settings

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


class DeliveryError(RuntimeError):
    """A mail could not be delivered after every retry."""


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
    )


def _from_airflow_connection(conn_id: str, default_from: str, timeout: float) -> SmtpConfig:
    from airflow.sdk import Connection  # heavy import: only when a connection is named

    conn = Connection.get(conn_id)
    extra = conn.extra_dejson or {}
    use_ssl = _truthy(extra.get("ssl", extra.get("use_ssl", False)))
    return SmtpConfig(
        host=conn.host or "127.0.0.1",
        port=int(conn.port or (465 if use_ssl else 25)),
        user=conn.login or "",
        password=conn.password or "",
        starttls=_truthy(extra.get("starttls", extra.get("use_starttls", False))),
        ssl=use_ssl,
        mail_from=str(extra.get("from_email") or default_from),
        timeout=float(extra.get("timeout", timeout)),
    )


def _send_once(config: SmtpConfig, message: EmailMessage) -> None:
    smtp_class = smtplib.SMTP_SSL if config.ssl else smtplib.SMTP
    with smtp_class(config.host, config.port, timeout=config.timeout) as smtp:
        if config.starttls and not config.ssl:
            smtp.starttls(context=ssl.create_default_context())
        if config.user:
            smtp.login(config.user, config.password)
        smtp.send_message(message)


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
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff_seconds, max=max(backoff_seconds, 60)),
        retry=retry_if_exception_type(RETRYABLE),
        before_sleep=before_sleep_log(LOGGER, logging.WARNING),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                _send_once(config, message)
    except RETRYABLE as exc:
        raise DeliveryError(
            f"could not send to {config.host}:{config.port} after {attempts} attempts: {exc}"
        ) from exc
    return retrying.statistics.get("attempt_number", 1)
