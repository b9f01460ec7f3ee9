#!/usr/bin/env bash
# One-shot job (service `kzmon-init`, the kzmon image, run as root): everything the Airflow
# components and the pipeline need before they start. Idempotent: safe on every `up`.
#
#   1. volumes owned by the Airflow user (AIRFLOW_UID, group 0)
#   2. `airflow db migrate` on the Postgres metadata DB
#   3. the admin password for Airflow's simple auth manager (AIRFLOW_ADMIN_PASSWORD)
#   4. the Airflow connection smtp_default (mail to Mailpit, or to SMTP_RELAY_* from .env),
#      imported from a private file so that SMTP_PASSWORD never appears on a command line
#   5. the Elasticsearch index templates, indices and aliases: `python -m kzmon.indexer setup`
set -euo pipefail

: "${AIRFLOW_UID:?}" "${AIRFLOW_ADMIN_USERNAME:?}" "${AIRFLOW_ADMIN_PASSWORD:?}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"

log() { echo "kzmon-init: $*"; }

log "volume ownership"
airflow_home="${AIRFLOW_HOME:-/opt/airflow}"
mkdir -p "${airflow_home}/logs" "${airflow_home}/config" "${KZMON_DATA_DIR:-/var/lib/kzmon/data}"
chown -R "${AIRFLOW_UID}:0" "${airflow_home}/logs" "${airflow_home}/config" "${KZMON_STATE_DIR:-/var/lib/kzmon}"

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
# The password must never appear on a command line (any user sees those in `ps`): the
# connection is written from the environment to a private file (mode 600, removed on exit)
# and imported from there. A login over a connection without TLS is refused unless
# SMTP_ALLOW_INSECURE_AUTH=true (kzmon.alerts.delivery applies the same rule).
conn_file="$(umask 077 && mktemp "${TMPDIR:-/tmp}/kzmon-smtp-conn.XXXXXX.json")"
trap 'rm -f "${conn_file}"' EXIT
KZMON_CONN_FILE="${conn_file}" python - <<'PY'
import json, os, sys

def flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}

starttls, use_ssl = flag("SMTP_STARTTLS"), flag("SMTP_SSL")
user = os.environ.get("SMTP_USER", "").strip()
if user and not (starttls or use_ssl) and not flag("SMTP_ALLOW_INSECURE_AUTH"):
    sys.exit(
        "kzmon-init: refusing an SMTP login without TLS: set SMTP_RELAY_STARTTLS=true or "
        "SMTP_RELAY_SSL=true, or SMTP_RELAY_ALLOW_INSECURE_AUTH=true for a trusted local relay"
    )
conn = {
    "conn_type": "smtp",
    "host": os.environ["SMTP_HOST"],
    "port": int(os.environ["SMTP_PORT"]),
    "extra_dejson": {
        "disable_tls": not starttls,
        "disable_ssl": not use_ssl,
        "from_email": os.environ.get("KZMON_MAIL_FROM", ""),
    },
}
if user:
    conn["login"] = user
    conn["password"] = os.environ.get("SMTP_PASSWORD", "")
with open(os.environ["KZMON_CONN_FILE"], "w", encoding="utf-8") as fh:
    json.dump({"smtp_default": conn}, fh)
PY
airflow connections import --overwrite "${conn_file}"
rm -f "${conn_file}"

log "Elasticsearch index templates, indices and aliases"
python -m kzmon.indexer setup

chown -R "${AIRFLOW_UID}:0" "${airflow_home}/logs" "${KZMON_STATE_DIR:-/var/lib/kzmon}"
touch "${DONE_MARKER:-/tmp/kzmon-init.done}"
log "done"
