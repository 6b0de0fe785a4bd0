#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, combined broker+controller) on 127.0.0.1.
#
#   bash scripts/kafka.sh up      start it (idempotent); writes .local/kafka.env
#   bash scripts/kafka.sh down    stop it (idempotent)
#   bash scripts/kafka.sh status  say whether it runs
#   bash scripts/kafka.sh reset   stop it and delete its data (.local/kafka-data) and the
#                                 processor's local state derived from it
#   bash scripts/kafka.sh grant SPEC   (sasl_ssl only) create the SCRAM users and ACLs of SPEC
#                                 as the admin, in one JVM start (format: scripts/kafka/Grant.java)
#
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS  use this running cluster instead; `up` only records it
#   KAFKA_VERSION            broker version (default below)
#   KAFKA_HOME               an unpacked Kafka distribution whose libs/ to use as is
#   KAFKA_PORT               client port (default 19092)
#   KAFKA_CONTROLLER_PORT    KRaft controller port (default KAFKA_PORT + 1, so 19093)
#   KAFKA_HEAP_OPTS          JVM heap flags (default -Xms256m -Xmx512m)
#   KAFKA_START_TIMEOUT      seconds to wait for the broker to answer (default 90)
#   KAFKA_LOCAL_DIR          where its data, pid, log, config and kafka.env go (default .local),
#                            so that a second broker (the SASL_SSL one of the tests) can run beside
#   KAFKA_SECURITY           plaintext (default): anonymous PLAINTEXT clients, no ACLs.
#                            sasl_ssl: as deploy/k8s, clients log in with SCRAM-SHA-512 over TLS
#                            and the broker enforces ACLs (StandardAuthorizer, no allow-if-no-ACL,
#                            no auto-created topics). A CA and a certificate for 127.0.0.1 are
#                            generated for it (openssl) in <local dir>/kafka-tls, and an admin
#                            (the only super user) with a random password; kafka.env then holds
#                            the admin's connection (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*,
#                            KAFKA_SSL_CAFILE), kafka-admin.properties the same for Kafka's tools.
#
# Jars come from Maven Central via scripts/kafka/pom.xml (when mvn exists) or from the
# official release archive, cached in .cache/kafka/<version>/libs; nothing is hand-installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/kafka"

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
SCALA_VERSION="2.13"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_SECURITY="${KAFKA_SECURITY:-plaintext}"
STOP_TIMEOUT=30

LOCAL_DIR="${KAFKA_LOCAL_DIR:-$ROOT/.local}"
DATA_DIR="$LOCAL_DIR/kafka-data"
PID_FILE="$LOCAL_DIR/kafka.pid"
LOG_FILE="$LOCAL_DIR/kafka.log"
ENV_FILE="$LOCAL_DIR/kafka.env"
CONFIG_FILE="$LOCAL_DIR/kafka-server.properties"
TLS_DIR="$LOCAL_DIR/kafka-tls"
SECRETS_FILE="$LOCAL_DIR/kafka-secrets.env"
ADMIN_CONFIG="$LOCAL_DIR/kafka-admin.properties"
ADMIN_PASSWORD=""
KEYSTORE_PASSWORD=""
CACHE_DIR="$ROOT/.cache/kafka/$KAFKA_VERSION"
MARKER="$CACHE_DIR/.complete"

BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
JAVA=""
LIBS=""
STARTED_PID=""  # the broker this invocation started, once its pid is known

log() { echo "kafka.sh: $*"; }
die() { echo "kafka.sh: $*" >&2; exit 1; }

# --- Java ------------------------------------------------------------------------------

# Kafka 4.x brokers need Java 17+; say exactly what to install instead of a stack trace.
require_java() {
  local candidate="java" spec
  [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]] && candidate="$JAVA_HOME/bin/java"
  if ! command -v "$candidate" >/dev/null 2>&1; then
    die "Java 17+ is required to run the local Kafka broker; install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"
  fi
  spec="$("$candidate" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = //p' | head -n1)"
  # "1.8" style versions (Java 8 and older) read as major 1.
  if [[ ! "${spec%%.*}" =~ ^[0-9]+$ ]] || (( ${spec%%.*} < 17 )); then
    die "Java 17+ is required to run the local Kafka broker (found Java ${spec:-unknown}); install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"
  fi
  JAVA="$candidate"
}

# --- Jars --------------------------------------------------------------------------------

fetch_with_maven() {
  local tmp="$CACHE_DIR/libs.tmp"
  local out="$CACHE_DIR/mvn.log"
  rm -rf "$tmp"
  # Output goes to a file and is shown only on failure: even with -q, mvn prints stray
  # terminal escape codes that clutter CI logs.
  if ! mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" \
    -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$tmp" \
    dependency:copy-dependencies >"$out" 2>&1 </dev/null; then
    cat "$out" >&2
    die "mvn could not resolve org.apache.kafka:kafka_$SCALA_VERSION:$KAFKA_VERSION (output above)"
  fi
  rm -f "$out"
  rm -rf "$CACHE_DIR/libs"
  mv "$tmp" "$CACHE_DIR/libs"
}

fetch_release_archive() {
  local name="kafka_${SCALA_VERSION}-${KAFKA_VERSION}"
  local url="https://archive.apache.org/dist/kafka/${KAFKA_VERSION}/${name}.tgz"
  local tgz="$CACHE_DIR/${name}.tgz" tmp="$CACHE_DIR/dist.tmp"
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$tgz" "$url" || die "could not download $url"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$tgz" "$url" || die "could not download $url"
  else
    die "need mvn, curl or wget to fetch Kafka $KAFKA_VERSION (or set KAFKA_HOME to an unpacked Kafka)"
  fi
  rm -rf "$tmp" && mkdir -p "$tmp"
  tar -xzf "$tgz" -C "$tmp" --strip-components=1 || die "could not unpack $tgz"
  rm -rf "$CACHE_DIR/libs"
  mv "$tmp/libs" "$CACHE_DIR/libs"
  rm -rf "$tmp" "$tgz"
}

# Sets LIBS to a directory of broker jars, fetching them once per version.
resolve_libs() {
  if [[ -n "${KAFKA_HOME:-}" ]]; then
    [[ -d "$KAFKA_HOME/libs" ]] || die "KAFKA_HOME=$KAFKA_HOME has no libs/ directory"
    LIBS="$KAFKA_HOME/libs"
    return
  fi
  # The marker is written last, so an interrupted fetch is simply redone.
  if [[ -f "$MARKER" && -d "$CACHE_DIR/libs" ]]; then
    log "using cached Kafka $KAFKA_VERSION jars ($CACHE_DIR/libs)"
  else
    mkdir -p "$CACHE_DIR"
    local started=$SECONDS source
    if command -v mvn >/dev/null 2>&1; then
      log "fetching Kafka $KAFKA_VERSION jars from Maven Central..."
      fetch_with_maven
      source="maven"
    else
      log "mvn not found; downloading the Kafka $KAFKA_VERSION release archive..."
      fetch_release_archive
      source="release archive"
    fi
    echo "kafka $KAFKA_VERSION from $source" >"$MARKER"
    log "fetched Kafka $KAFKA_VERSION jars ($source) in $((SECONDS - started))s"
  fi
  LIBS="$CACHE_DIR/libs"
}

# Runs a short-lived Kafka tool (format, readiness probe) with the broker's jars.
# C1-only JIT and serial GC roughly halve a tool's start-up time on a 2-core machine.
run_kafka_class() {
  local level="$1" class="$2"
  shift 2
  "$JAVA" -cp "$LIBS/*" \
    -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.xml" \
    -Dkafka.sh.loglevel="$level" \
    "$class" "$@"
}

# --- Broker ------------------------------------------------------------------------------

# Pid of the broker this script started, if it is still alive (guards against pid reuse).
running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka" || return 1
  echo "$pid"
}

# A broker of ours whose pid file was lost: matched by this checkout's config path only.
orphan_pids() {
  pgrep -f "kafka\.Kafka $CONFIG_FILE" 2>/dev/null || true
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_env() {
  mkdir -p "$LOCAL_DIR"
  if [[ "$KAFKA_SECURITY" == sasl_ssl && "$1" == "$BOOTSTRAP" ]]; then
    (
      umask 077
      cat >"$ENV_FILE" <<EOF
KAFKA_BOOTSTRAP_SERVERS=$1
KAFKA_SECURITY_PROTOCOL=SASL_SSL
KAFKA_SASL_MECHANISM=SCRAM-SHA-512
KAFKA_SASL_USERNAME=admin
KAFKA_SASL_PASSWORD=$ADMIN_PASSWORD
KAFKA_SSL_CAFILE=$TLS_DIR/ca.pem
EOF
    )
  else
    echo "KAFKA_BOOTSTRAP_SERVERS=$1" >"$ENV_FILE"
  fi
}

check_security() {
  case "$KAFKA_SECURITY" in
    plaintext | sasl_ssl) ;;
    *) die "KAFKA_SECURITY must be plaintext or sasl_ssl, not '$KAFKA_SECURITY'" ;;
  esac
  # A data directory is formatted for one mode (the SASL one holds the admin's credential).
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    local formatted
    formatted="$(cat "$DATA_DIR/.security" 2>/dev/null || echo plaintext)"
    [[ "$formatted" == "$KAFKA_SECURITY" ]] ||
      die "$DATA_DIR was formatted for KAFKA_SECURITY=$formatted, not $KAFKA_SECURITY; 'bash scripts/kafka.sh reset' (or another KAFKA_LOCAL_DIR)"
  fi
}

# The admin's and the keystore's passwords, made once per local dir: the formatted data keeps
# the admin's SCRAM credential, so a restart must reuse them.
load_secrets() {
  if [[ ! -f "$SECRETS_FILE" ]]; then
    command -v openssl >/dev/null 2>&1 || die "openssl is needed for KAFKA_SECURITY=sasl_ssl (apt-get install openssl)"
    (
      umask 077
      printf 'ADMIN_PASSWORD=%s\nKEYSTORE_PASSWORD=%s\n' \
        "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" >"$SECRETS_FILE"
    )
  fi
  # shellcheck disable=SC1090  # written just above
  . "$SECRETS_FILE"
}

# A CA made for this broker only and a certificate it signs for 127.0.0.1 and localhost, in a
# PKCS12 keystore. The CA's key is deleted once it has signed: nothing else can be issued.
generate_tls() {
  [[ -f "$TLS_DIR/broker.p12" && -f "$TLS_DIR/ca.pem" ]] && return
  local out="$LOCAL_DIR/kafka-tls.log"
  rm -rf "$TLS_DIR" && mkdir -p "$TLS_DIR" && chmod 700 "$TLS_DIR"
  if ! (
    cd "$TLS_DIR" &&
      openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
        -subj "/CN=equity-benchmarks local Kafka CA" -keyout ca.key -out ca.pem \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
      openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=127.0.0.1" \
        -keyout broker.key -out broker.csr &&
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >broker.ext &&
      openssl x509 -req -sha256 -days 30 -in broker.csr -CA ca.pem -CAkey ca.key \
        -CAcreateserial -extfile broker.ext -out broker.pem &&
      openssl pkcs12 -export -name broker -inkey broker.key -in broker.pem -certfile ca.pem \
        -passout "pass:$KEYSTORE_PASSWORD" -out broker.p12 &&
      rm -f ca.key ca.srl broker.csr broker.ext broker.key
  ) >"$out" 2>&1; then
    cat "$out" >&2
    rm -rf "$TLS_DIR"
    die "openssl could not make the broker's certificate (output above)"
  fi
  rm -f "$out"
  log "generated a CA and a certificate for 127.0.0.1 in $TLS_DIR (clients trust $TLS_DIR/ca.pem)"
}

render_config() {
  if [[ "$KAFKA_SECURITY" == sasl_ssl ]]; then
    (
      umask 077
      sed -e "s|@PORT@|$KAFKA_PORT|g" \
        -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
        -e "s|@DATA_DIR@|$DATA_DIR|g" \
        -e "s|@TLS_DIR@|$TLS_DIR|g" \
        -e "s|@ADMIN_PASSWORD@|$ADMIN_PASSWORD|g" \
        -e "s|@KEYSTORE_PASSWORD@|$KEYSTORE_PASSWORD|g" \
        "$HERE/server-sasl-ssl.properties.template" >"$CONFIG_FILE"
      cat >"$ADMIN_CONFIG" <<EOF
bootstrap.servers=$BOOTSTRAP
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN_PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
EOF
    )
    return
  fi
  sed -e "s|@PORT@|$KAFKA_PORT|g" \
    -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$DATA_DIR|g" \
    "$HERE/server.properties.template" >"$CONFIG_FILE"
}

# KRaft needs its log dir formatted once with a cluster id; later starts reuse it.
format_storage() {
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    return
  fi
  local cluster_id
  cluster_id="$(run_kafka_class WARN kafka.tools.StorageTool random-uuid)"
  log "formatting $DATA_DIR (cluster id $cluster_id)"
  mkdir -p "$DATA_DIR"
  local scram=()
  # The admin's SCRAM credential goes into the metadata log at format: the broker's own
  # inter-broker login and every later user (`grant`) need it.
  [[ "$KAFKA_SECURITY" == sasl_ssl ]] &&
    scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=$ADMIN_PASSWORD]")
  run_kafka_class WARN kafka.tools.StorageTool format \
    --config "$CONFIG_FILE" --cluster-id "$cluster_id" --ignore-formatted "${scram[@]}" >/dev/null
  echo "$KAFKA_SECURITY" >"$DATA_DIR/.security"
}

start_broker() {
  local detach=()
  command -v setsid >/dev/null 2>&1 && detach=(setsid)
  : >"$LOG_FILE"
  # setsid + nohup: the broker outlives this shell and its process group (make, CI steps).
  # The inner shell records its own pid and then becomes java, so the pid file is java's.
  # shellcheck disable=SC2086,SC2016  # heap opts are a list of flags; $$ is the inner shell's
  nohup "${detach[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    "$JAVA" $KAFKA_HEAP_OPTS \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.xml" \
    -cp "$LIBS/*" kafka.Kafka "$CONFIG_FILE" \
    >>"$LOG_FILE" 2>&1 </dev/null &
}

fail_start() {
  echo "kafka.sh: $1" >&2
  echo "kafka.sh: last lines of $LOG_FILE:" >&2
  tail -n 40 "$LOG_FILE" >&2 || true
  echo "kafka.sh: (data formatted by another Kafka version? 'bash scripts/kafka.sh reset' wipes $DATA_DIR)" >&2
  stop_broker >/dev/null 2>&1 || true
  if [[ -n "$STARTED_PID" ]] && kill -0 "$STARTED_PID" 2>/dev/null; then
    kill -KILL "$STARTED_PID" 2>/dev/null || true
  fi
  exit 1
}

# Whether the broker's start failed for a reason that passes by itself: the ports or the data
# dir's lock still held by the broker just stopped (its sockets and file lock go a moment after
# its pid), so a second try is worth it.
transient_start_failure() {
  grep -qE "Address already in use|BindException|Failed to acquire lock|OverlappingFileLockException" "$LOG_FILE" 2>/dev/null
}

# What the pid file says and what that pid is, for a failed start's message.
startup_state() {
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if [[ ! "$pid" =~ ^[0-9]+$ ]]; then
    echo "no pid in $PID_FILE"
  elif ! kill -0 "$pid" 2>/dev/null; then
    echo "pid $pid is gone"
  else
    echo "pid $pid runs: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
  fi
}

# Ready means a real client round trip (metadata via the admin client), not just an open port.
# Returns 2 when the broker exited during startup for a transient reason (see above).
wait_until_ready() {
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) pid client=() born=$SECONDS
  [[ "$KAFKA_SECURITY" == sasl_ssl ]] && client=(--command-config "$ADMIN_CONFIG")
  while ((SECONDS < deadline)); do
    # The pid file is written by the detached child: on a loaded machine that can take a few
    # seconds. The pid is ours (just started), so only its being gone is a failed start: its
    # command line may not say kafka.Kafka yet while it execs java (read then, /proc gives an
    # empty one), and a start read as failed that way left a broker running that `up` said had
    # exited.
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    if [[ ! "$pid" =~ ^[0-9]+$ ]]; then
      ((SECONDS - born < 15)) || fail_start "the broker wrote no pid to $PID_FILE within 15s"
      sleep 0.5
      continue
    fi
    STARTED_PID="$pid"
    if ! kill -0 "$pid" 2>/dev/null; then
      transient_start_failure && return 2
      fail_start "the broker exited during startup ($(startup_state))"
    fi
    if port_open "$KAFKA_PORT" &&
      run_kafka_class ERROR org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$BOOTSTRAP" "${client[@]}" --list >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  fail_start "the broker did not answer on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s (one holding thousands of partitions loads slowly: raise KAFKA_START_TIMEOUT, or reset it)"
}

stop_broker() {
  local pids pid deadline
  pids="$(running_pid || true) $(orphan_pids)"
  pids="$(echo "$pids" | tr ' ' '\n' | grep -E '^[0-9]+$' | sort -u | tr '\n' ' ' || true)"
  if [[ -z "${pids// /}" ]]; then
    rm -f "$PID_FILE"
    log "broker not running"
    return 0
  fi
  log "stopping broker (pid ${pids% })"
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  # A clean shutdown flushes the logs, so the next start skips log recovery.
  deadline=$((SECONDS + STOP_TIMEOUT))
  for pid in $pids; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
  done
  rm -f "$PID_FILE"
  wait_ports_free
  log "broker stopped"
}

# The next `up` must find the ports free: wait (bounded) until nothing listens on them.
wait_ports_free() {
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while (port_open "$KAFKA_PORT" || port_open "$KAFKA_CONTROLLER_PORT") && ((SECONDS < deadline)); do
    sleep 0.5
  done
}

# --- Commands ------------------------------------------------------------------------------

cmd_up() {
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    write_env "$KAFKA_BOOTSTRAP_SERVERS"
    log "using external Kafka at $KAFKA_BOOTSTRAP_SERVERS (wrote $ENV_FILE)"
    return 0
  fi
  local pid
  if pid="$(running_pid)"; then
    [[ "$KAFKA_SECURITY" == sasl_ssl ]] && load_secrets
    write_env "$BOOTSTRAP"
    log "broker already running (pid $pid) on $BOOTSTRAP"
    return 0
  fi
  rm -f "$PID_FILE"

  require_java
  check_security
  if port_open "$KAFKA_PORT" || port_open "$KAFKA_CONTROLLER_PORT"; then
    die "port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT on 127.0.0.1 is already in use by another process; set KAFKA_PORT/KAFKA_CONTROLLER_PORT, or KAFKA_BOOTSTRAP_SERVERS to use that cluster"
  fi
  resolve_libs
  mkdir -p "$LOCAL_DIR"
  if [[ "$KAFKA_SECURITY" == sasl_ssl ]]; then
    load_secrets
    generate_tls
  fi
  render_config
  format_storage

  local started=$SECONDS what="Kafka $KAFKA_VERSION"
  [[ -n "${KAFKA_HOME:-}" ]] && what="Kafka from $KAFKA_HOME"
  [[ "$KAFKA_SECURITY" == sasl_ssl ]] && what="$what (SASL_SSL, SCRAM-SHA-512, ACLs)"
  log "starting $what on $BOOTSTRAP (log: $LOG_FILE)"
  local attempt status
  for attempt in 1 2 3; do
    start_broker
    status=0
    wait_until_ready || status=$?
    ((status == 0)) && break
    cp "$LOG_FILE" "$LOG_FILE.attempt$attempt"
    ((attempt == 3)) && fail_start "the broker exited during startup, 3 times (logs: $LOG_FILE.attempt*)"
    log "the broker exited during startup (its ports or data dir still held: $LOG_FILE.attempt$attempt); starting it again"
    rm -f "$PID_FILE"
    sleep $((2 * attempt))
  done
  write_env "$BOOTSTRAP"
  log "broker ready on $BOOTSTRAP (pid $STARTED_PID) after $((SECONDS - started))s; wrote $ENV_FILE"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    log "running (pid $pid) on $BOOTSTRAP"
  else
    log "not running"
  fi
}

# The processor's local tables are derived from the broker's changelogs: they go too, or the
# next processor would find offsets the new, empty topics never had (Faust's ConsistencyError).
cmd_reset() {
  stop_broker
  rm -rf "$DATA_DIR" "$LOCAL_DIR/processor-state" "$TLS_DIR" "$SECRETS_FILE" "$ADMIN_CONFIG"
  log "deleted $DATA_DIR and the processor's local state ($LOCAL_DIR/processor-state)"
}

# Users and ACLs, as Strimzi's User Operator makes them from KafkaUsers, on the SASL_SSL broker.
cmd_grant() {
  local spec="${1:-}"
  [[ -n "$spec" && -f "$spec" ]] || die "usage: bash scripts/kafka.sh grant SPEC (a file; see scripts/kafka/Grant.java)"
  [[ -f "$ADMIN_CONFIG" ]] || die "no $ADMIN_CONFIG: start the broker with KAFKA_SECURITY=sasl_ssl first"
  running_pid >/dev/null || die "the broker of $LOCAL_DIR is not running"
  require_java
  resolve_libs >/dev/null
  run_kafka_class WARN "$HERE/Grant.java" "$ADMIN_CONFIG" "$spec"
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    down) stop_broker ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    grant) cmd_grant "${2:-}" ;;
    *)
      echo "usage: bash scripts/kafka.sh {up|down|status|reset|grant SPEC}" >&2
      exit 2
      ;;
  esac
}

main "$@"
