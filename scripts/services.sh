#!/usr/bin/env bash
# Starts the platform's services in the background (one process each) and stops them.
#   scripts/services.sh start   ingest, processor, query and dashboard, waiting until each is healthy
#   scripts/services.sh stop    stops every service started here; leaves no process behind
#   scripts/services.sh check   exits 1, with its log's last lines, if a started service died
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
PIDS="$ROOT/.local/pids"
LOGS="$ROOT/.local/logs"

log() { echo "services.sh: $*"; }

start_one() {
  local name="$1"; shift
  local pid_file="$PIDS/$name.pid"
  if [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    log "$name already runs (pid $(cat "$pid_file"))"
    return
  fi
  # exec: the recorded pid is the service itself, which `stop` signals.
  (cd "$ROOT" && exec env "$@") >"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! >"$pid_file"
  log "started $name (pid $(cat "$pid_file"), log .local/logs/$name.log)"
}

wait_healthy() {
  local name="$1" address="$2"
  for _ in $(seq 1 180); do
    if "$PY" -m services.healthcheck "$address" >/dev/null 2>&1; then
      log "$name is serving on $address"
      return
    fi
    if ! kill -0 "$(cat "$PIDS/$name.pid")" 2>/dev/null; then
      log "$name exited; last lines of its log:"; tail -n 30 "$LOGS/$name.log"; exit 1
    fi
    sleep 0.5
  done
  log "$name did not become healthy on $address"; tail -n 30 "$LOGS/$name.log"; exit 1
}

cmd_start() {
  mkdir -p "$PIDS" "$LOGS"
  : "${KAFKA_BOOTSTRAP_SERVERS:?load .local/kafka.env first (make kafka-up)}"
  local common=(KAFKA_BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP_SERVERS" JEDI_CREDENTIALS_FILE="$ROOT/.local/credentials.json")
  start_one ingest "${common[@]}" JEDI_PORT="${JEDI_INGEST_PORT:-50051}" JEDI_METRICS_PORT="${JEDI_INGEST_METRICS_PORT:-9101}" \
    "$PY" -m services.ingest
  wait_healthy ingest "127.0.0.1:${JEDI_INGEST_PORT:-50051}"
  # The demo releases on a short calendar (JEDI_RELEASE_EVERY, default here 5s; the platform's 1d).
  start_one processor "${common[@]}" JEDI_STATE_DIR="$ROOT/.local/processor-state" \
    JEDI_RELEASE_EVERY="${JEDI_RELEASE_EVERY:-5s}" \
    JEDI_WEB_PORT="${JEDI_PROCESSOR_WEB_PORT:-6066}" JEDI_METRICS_PORT="${JEDI_PROCESSOR_METRICS_PORT:-9102}" \
    "$PY" -m services.processor
  start_one query "${common[@]}" JEDI_PORT="${JEDI_QUERY_PORT:-50061}" JEDI_METRICS_PORT="${JEDI_QUERY_METRICS_PORT:-9103}" \
    "$PY" -m services.query
  wait_healthy query "127.0.0.1:${JEDI_QUERY_PORT:-50061}"
  # The dashboard reads only the query service (with each user's own key): no Kafka, no credentials.
  start_one dashboard JEDI_PORT="${JEDI_DASHBOARD_PORT:-8080}" \
    JEDI_QUERY_ADDRESS="127.0.0.1:${JEDI_QUERY_PORT:-50061}" JEDI_METRICS_PORT="${JEDI_DASHBOARD_METRICS_PORT:-9104}" \
    "$PY" -m services.dashboard
  wait_http dashboard "http://127.0.0.1:${JEDI_DASHBOARD_PORT:-8080}/readyz"
}

wait_http() {
  local name="$1" url="$2"
  for _ in $(seq 1 120); do
    if "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)" "$url" >/dev/null 2>&1; then
      log "$name is serving on ${url%/readyz}"
      return
    fi
    if ! kill -0 "$(cat "$PIDS/$name.pid")" 2>/dev/null; then
      log "$name exited; last lines of its log:"; tail -n 30 "$LOGS/$name.log"; exit 1
    fi
    sleep 0.5
  done
  log "$name did not become ready at $url"; tail -n 30 "$LOGS/$name.log"; exit 1
}

cmd_check() {
  local name
  for name in ingest processor query dashboard; do
    if ! kill -0 "$(cat "$PIDS/$name.pid" 2>/dev/null)" 2>/dev/null; then
      log "$name is not running; its last errors and last lines (.local/logs/$name.log):" >&2
      # A crashing worker logs its reason first, then a screenful of shutdown lines.
      grep -E '"level": "(error|critical)"' "$LOGS/$name.log" | tail -n 5 >&2 || true
      tail -n 10 "$LOGS/$name.log" >&2 || true
      exit 1
    fi
  done
}

stop_one() {
  local name="$1" pid_file="$PIDS/$1.pid"
  [[ -f "$pid_file" ]] || return 0
  local pid; pid="$(cat "$pid_file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
    log "stopped $name"
  fi
  rm -f "$pid_file"
}

cmd_stop() {
  for name in dashboard query processor ingest; do stop_one "$name"; done
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  check) cmd_check ;;
  *) echo "usage: $0 start|stop|check" >&2; exit 2 ;;
esac
