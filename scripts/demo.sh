#!/usr/bin/env bash
# `make demo`: credentials, every service in the background, a multi-site dataset pushed
# through ingest, and the benchmarks printed from the query service. Services keep running.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY=.venv/bin/python
SITES=site-north,site-south,site-east,site-west,site-lakes,site-plains,site-coast,site-hills,site-river,site-metro,site-desert,site-pines,site-island

if [[ ! -f .local/credentials.json || ! -f .local/demo-keys.env ]]; then
  "$PY" -m services.cli credentials create --sites "$SITES" \
    --file .local/credentials.json --keys-out .local/demo-keys.env
fi
# site-north's response key, for the README's `jedi push` example (a site makes its own once).
if [[ ! -f .local/response-keys/site-north.key ]]; then
  "$PY" -m services.cli response-key create --site site-north --file .local/response-keys/site-north.key
fi
bash scripts/services.sh start

{
  echo "# Written by make demo: where the services listen and the demo's API keys."
  echo "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
  echo "JEDI_INGEST_ADDRESS=127.0.0.1:${JEDI_INGEST_PORT:-50051}"
  echo "JEDI_QUERY_ADDRESS=127.0.0.1:${JEDI_QUERY_PORT:-50061}"
  echo "JEDI_DASHBOARD_URL=http://127.0.0.1:${JEDI_DASHBOARD_PORT:-8080}/"
  echo "JEDI_RESPONSE_KEY_FILE=$ROOT/.local/response-keys/site-north.key"
  cat .local/demo-keys.env
} > .local/demo.env
chmod 600 .local/demo.env

"$PY" -m services.demo --ingest "127.0.0.1:${JEDI_INGEST_PORT:-50051}" \
  --query "127.0.0.1:${JEDI_QUERY_PORT:-50061}" --keys .local/demo-keys.env &
demo=$!
# While the demo waits for benchmarks, a service that died ends it at once, with that
# service's log, instead of a wait until the demo's deadline.
while kill -0 "$demo" 2>/dev/null; do
  if ! bash scripts/services.sh check; then
    kill "$demo" 2>/dev/null || true
    echo "demo: stopped early: a service died (make down stops the others)" >&2
    exit 1
  fi
  sleep 1
done
wait "$demo"

coordinator_key="$(sed -n 's/^JEDI_KEY_COORDINATOR=//p' .local/demo-keys.env)"
site_key="$(sed -n 's/^JEDI_KEY_SITE_NORTH=//p' .local/demo-keys.env)"
cat <<EOT

Dashboard: http://127.0.0.1:${JEDI_DASHBOARD_PORT:-8080}/
  sign in as the coordinator with  $coordinator_key
  or as Northern University Hospital (site-north) with  $site_key

The services keep running in the background (logs in .local/logs/):
  ingest  127.0.0.1:${JEDI_INGEST_PORT:-50051}   query  127.0.0.1:${JEDI_QUERY_PORT:-50061} (gRPC reflection on)
  dashboard  http://127.0.0.1:${JEDI_DASHBOARD_PORT:-8080}/
Addresses and demo API keys: .local/demo.env. Try:
  set -a; . .local/demo.env; set +a
  .venv/bin/jedi query compare --composite belonging --wave baseline --api-key "\$JEDI_KEY_COORDINATOR"
Stop them with 'make down', and the broker with 'make kafka-down'.
EOT
