#!/usr/bin/env bash
# One-shot job (service `es-certs`, run in the Elasticsearch image as root): create the stack's
# own certificate authority and one node certificate, once, in the `certs` volume.
#
# The node certificate names every host an Elasticsearch node can have in docker-compose.yml
# and docker-compose.scale.yml (ES_CERT_DNS), so scaling out needs no new certificates.
# Files: ca/ca.crt (public: Kibana and kzmon trust it), node/node.{crt,key}, ca/ca.key.
# tests/compose runs this script against the local Elasticsearch distribution (ES_HOME).
set -euo pipefail

ES_HOME="${ES_HOME:-/usr/share/elasticsearch}"
CERTS_DIR="${CERTS_DIR:-${ES_HOME}/config/certs}"
ES_CERT_DNS="${ES_CERT_DNS:-elasticsearch,es01,es02,es03,localhost}"
# Elasticsearch's image runs it as uid 1000, gid 0.
CERTS_OWNER="${CERTS_OWNER:-1000:0}"
DONE_MARKER="${DONE_MARKER:-/tmp/es-certs.done}"
mkdir -p "${CERTS_DIR}"
cd "${ES_HOME}"

if [[ ! -f "${CERTS_DIR}/ca/ca.crt" ]]; then
  echo "es-certs: creating the certificate authority"
  bin/elasticsearch-certutil ca --silent --pem --out "${CERTS_DIR}/ca.zip"
  unzip -o -q "${CERTS_DIR}/ca.zip" -d "${CERTS_DIR}"
  rm -f "${CERTS_DIR}/ca.zip"
fi

if [[ ! -f "${CERTS_DIR}/node/node.crt" ]]; then
  echo "es-certs: creating the node certificate for ${ES_CERT_DNS}"
  {
    echo "instances:"
    echo "  - name: node"
    echo "    dns:"
    IFS=',' read -r -a names <<<"${ES_CERT_DNS}"
    for name in "${names[@]}"; do echo "      - ${name}"; done
    echo "    ip:"
    echo "      - 127.0.0.1"
  } >"${CERTS_DIR}/instances.yml"
  bin/elasticsearch-certutil cert --silent --pem --in "${CERTS_DIR}/instances.yml" \
    --ca-cert "${CERTS_DIR}/ca/ca.crt" --ca-key "${CERTS_DIR}/ca/ca.key" \
    --out "${CERTS_DIR}/certs.zip"
  unzip -o -q "${CERTS_DIR}/certs.zip" -d "${CERTS_DIR}"
  rm -f "${CERTS_DIR}/certs.zip"
fi

# Elasticsearch reads the node key; Kibana and Airflow only read the public ca.crt.
chown -R "${CERTS_OWNER}" "${CERTS_DIR}"
find "${CERTS_DIR}" -type d -exec chmod 755 {} +
find "${CERTS_DIR}" -type f -name '*.crt' -exec chmod 644 {} +
find "${CERTS_DIR}" -type f -name '*.key' -exec chmod 640 {} +
# Only this job signs certificates: nobody else reads the CA key.
chown "$(id -u):$(id -g)" "${CERTS_DIR}/ca/ca.key"
chmod 600 "${CERTS_DIR}/ca/ca.key"
touch "${DONE_MARKER}"
echo "es-certs: done"
