#!/usr/bin/env bash
# One-shot job (service `kzmon-init`, the kzmon image, run as root): everything the Airflow
# components and the pipeline need before they start. Idempotent: safe on every `up`.
#
#   1. volumes owned by the Airflow user (AIRFLOW_UID, group 0)
#   2. `airflow db migrate` on the Postgres metadata DB
#   3. the admin password for Airflow's simple auth manager (AIRFLOW_ADMIN_PASSWORD)
#   4. the Airflow connection smtp_default (mail to Mailpit, or to SMTP_RELAY_* from .env)
#   5. the Elasticsearch index templates, indices and aliases: `python -m kzmon.indexer setup`
set -euo pipefail

: "${AIRFLOW_UID:?}" "${AIRFLOW_ADMIN_USERNAME:?}" "${AIRFLOW_ADMIN_PASSWORD:?}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"

log() { echo "kzmon-init: $*"; }

log "volume ownership"
mkdir -p /opt/airflow/logs /opt/airflow/config "${KZMON_DATA_DIR:-/var/lib/kzmon/data}"
chown -R "${AIRFLOW_UID}:0" /opt/airflow/logs /opt/airflow/config "${KZMON_STATE_DIR:-/var/lib/kzmon}"

log "airflow db migrate"
airflow db migrate

log "admin user ${AIRFLOW_ADMIN_USERNAME} (simple auth manager)"
python - <<'PY'
import json, os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.write_text(json.dumps({os.environ["AIRFLOW_ADMIN_USERNAME"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}))
path.chmod(0o600)
PY
chown "${AIRFLOW_UID}:0" "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}"

log "connection smtp_default -> ${SMTP_HOST}:${SMTP_PORT}"
smtp_extra="$(python - <<'PY'
import json, os

def flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}

print(json.dumps({
    "disable_tls": not flag("SMTP_STARTTLS"),
    "disable_ssl": not flag("SMTP_SSL"),
    "from_email": os.environ.get("KZMON_MAIL_FROM", ""),
}))
PY
)"
smtp_args=(--conn-type smtp --conn-host "${SMTP_HOST}" --conn-port "${SMTP_PORT}" --conn-extra "${smtp_extra}")
if [[ -n "${SMTP_USER:-}" ]]; then
  smtp_args+=(--conn-login "${SMTP_USER}" --conn-password "${SMTP_PASSWORD:-}")
fi
# `connections add` refuses to overwrite: delete first (absent on the first run, hence `|| true`).
airflow connections delete smtp_default >/dev/null 2>&1 || true
airflow connections add smtp_default "${smtp_args[@]}"

log "Elasticsearch index templates, indices and aliases"
python -m kzmon.indexer setup

chown -R "${AIRFLOW_UID}:0" /opt/airflow/logs "${KZMON_STATE_DIR:-/var/lib/kzmon}"
touch "${DONE_MARKER:-/tmp/kzmon-init.done}"
log "done"
