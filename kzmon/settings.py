"""Run-time configuration, read from environment variables with local defaults.

Every setting has a SCREAMING_SNAKE_CASE variable (listed in `.env.example` and the README).
Code asks for `get_settings()` instead of reading `os.environ` itself, so the defaults live
in one place. Settings are read on each call: tests and the demo change the environment
between runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

#: The repository root: the parent of this package.
REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if not raw:
        return default
    return raw.lower() in {"1", "true", "yes", "on"}


def _local_es_url(state_dir: Path) -> str:
    """The URL of the node `make es-up` started, when ES_URL is not set."""
    node_file = state_dir / "es" / "node" / "node.json"
    try:
        return json.loads(node_file.read_text())["url"]
    except (OSError, ValueError, KeyError):
        return ""


@dataclass(frozen=True)
class Settings:
    """All configuration kzmon reads from the environment."""

    state_dir: Path
    data_dir: Path
    es_url: str
    es_username: str
    es_password: str
    es_api_key: str
    es_ca_certs: str
    es_verify_certs: bool
    es_index_prefix: str
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str
    smtp_starttls: bool
    smtp_ssl: bool
    smtp_allow_insecure_auth: bool
    smtp_ca_certs: str
    mail_from: str
    ops_email: str
    kibana_url: str
    airflow_base_url: str
    user_agent: str
    replay_url: str


def get_settings() -> Settings:
    """Read the settings from the environment (cheap; call it where needed)."""
    state_dir = Path(_env("KZMON_STATE_DIR") or REPO_ROOT / ".state").resolve()
    data_dir = Path(_env("KZMON_DATA_DIR") or state_dir / "data").resolve()
    return Settings(
        state_dir=state_dir,
        data_dir=data_dir,
        es_url=_env("ES_URL") or _local_es_url(state_dir) or "http://127.0.0.1:9200",
        es_username=_env("ES_USERNAME"),
        es_password=_env("ES_PASSWORD"),
        es_api_key=_env("ES_API_KEY"),
        es_ca_certs=_env("ES_CA_CERTS"),
        es_verify_certs=_env_bool("ES_VERIFY_CERTS", True),
        es_index_prefix=_env("KZMON_INDEX_PREFIX", "kzmon"),
        smtp_host=_env("SMTP_HOST", "127.0.0.1"),
        smtp_port=int(_env("SMTP_PORT", "8025")),
        smtp_user=_env("SMTP_USER"),
        smtp_password=_env("SMTP_PASSWORD"),
        smtp_starttls=_env_bool("SMTP_STARTTLS", False),
        smtp_ssl=_env_bool("SMTP_SSL", False),
        smtp_allow_insecure_auth=_env_bool("SMTP_ALLOW_INSECURE_AUTH", False),
        smtp_ca_certs=_env("SMTP_CA_CERTS"),
        mail_from=_env("KZMON_MAIL_FROM", "kzmon alerts <alerts@kzmon.localhost>"),
        ops_email=_env("KZMON_OPS_EMAIL", "ops@kzmon.localhost"),
        kibana_url=_env("KIBANA_URL", "http://127.0.0.1:5601"),
        airflow_base_url=_env("AIRFLOW_BASE_URL", "http://127.0.0.1:8080"),
        user_agent=_env(
            "KZMON_USER_AGENT",
            "kzmon/0.1 (+https://kzmon.localhost/about; contact: ops@kzmon.localhost)",
        ),
        replay_url=_env("KZMON_REPLAY_URL"),
    )
