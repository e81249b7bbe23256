#!/usr/bin/env bash
# Project-local Kafka (KRaft) on loopback: one node, or a cluster of KAFKA_BROKERS nodes, each
# in combined mode (broker+controller; the nodes' controllers form the quorum).
#   kafka.sh setup    fetch the broker jars with Maven into .local/kafka/libs (skipped when current)
#   kafka.sh start [NODE]  write each node's server.properties, format its storage once, start
#                     every node not running (or NODE), wait, then bootstrap: the principals'
#                     SCRAM users, the topics and the ACLs (docs/security.md)
#   kafka.sh stop [NODE]   SIGTERM, wait up to 30 s, then SIGKILL
#   kafka.sh kill NODE     SIGKILL one node (fault injection: docs/reliability.md)
#   kafka.sh status   exit 0 when every node runs, 3 otherwise
#   kafka.sh bootstrap-servers   the clients' bootstrap list (every node)
#   kafka.sh logs [NODE] [-n]    follow a node's log (`-n` prints the tail and returns)
# Environment: KAFKA_BROKERS (default 1: nodes; node n listens on KAFKA_PORT+10*(n-1) and
#              KAFKA_CONTROLLER_PORT+10*(n-1), infra/README.md),
#              KAFKA_PORT (default 19092), KAFKA_CONTROLLER_PORT (default 19093),
#              KAFKA_READY_TIMEOUT seconds (default 90),
#              KAFKA_HEAP (default "-Xms256m -Xmx1g"; "-Xms128m -Xmx512m" per node of a cluster),
#              KAFKA_TLS (default 1: also listen with TLS, certificates from tls.sh; 0: not),
#              KAFKA_SASL_SSL_PORT (default KAFKA_PORT+2: SASL/SCRAM over TLS),
#              KAFKA_SSL_PORT (default KAFKA_PORT+3: TLS with client certificates),
#              AR_KAFKA_REPLICATION_FACTOR (default min(KAFKA_BROKERS, 3)),
#              AR_KAFKA_MIN_INSYNC_REPLICAS (default 2 with a replication factor of 3, else 1).
set -euo pipefail
AR_COMPONENT=kafka
# shellcheck source=../lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/../lib.sh"

HERE="$AR_ROOT/infra/kafka"
POM="$HERE/pom.xml"
HOME_DIR="$AR_LOCAL/kafka"
LIBS="$HOME_DIR/libs"
BROKERS="${KAFKA_BROKERS:-1}"
[[ $BROKERS =~ ^[1-9]$ ]] || die "KAFKA_BROKERS must be a number from 1 to 9 (got '$BROKERS')"
# A cluster keeps its nodes apart from the single broker's data (.local/kafka-cluster/node-n),
# so `make test` (one broker) and `make test-cluster` (three) can follow each other.
CLUSTER_HOME="$AR_LOCAL/kafka-cluster"
if (( BROKERS > 1 )); then STATE_DIR="$CLUSTER_HOME"; else STATE_DIR="$HOME_DIR"; fi
CLUSTER_ID_FILE="$STATE_DIR/cluster.id"
# How many brokers the data folders were formatted for: a cluster cannot change its
# controller quorum by a setting, so another count needs a fresh cluster.
BROKERS_FILE="$STATE_DIR/brokers"
PORT="${KAFKA_PORT:-19092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
# Three JVMs share the machine in a cluster: a smaller heap each unless told otherwise.
if (( BROKERS > 1 )); then HEAP="${KAFKA_HEAP:--Xms128m -Xmx512m}"; else HEAP="${KAFKA_HEAP:--Xms256m -Xmx1g}"; fi
TLS="${KAFKA_TLS:-1}"
SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-$((PORT + 2))}"
SSL_PORT="${KAFKA_SSL_PORT:-$((PORT + 3))}"
TLS_DIR="$HOME_DIR/tls"
# Port scheme (infra/README.md): node n (1..KAFKA_BROKERS) listens on KAFKA_PORT+10*(n-1)
# (clients), KAFKA_CONTROLLER_PORT+10*(n-1) (KRaft), and its TLS listeners on its client
# port +2 and +3. A single broker keeps its folders in .local/kafka/{data,logs,...}; the
# nodes of a cluster have theirs in .local/kafka-cluster/node-n/.
# Topics: replication factor min(brokers, 3); min.insync.replicas 2 from three brokers on
# (one broker may be lost without refusing a write), else 1.
REPLICATION_FACTOR="${AR_KAFKA_REPLICATION_FACTOR:-$(( BROKERS < 3 ? BROKERS : 3 ))}"
if (( REPLICATION_FACTOR >= 3 )); then MIN_ISR_DEFAULT=2; else MIN_ISR_DEFAULT=1; fi
MIN_ISR="${AR_KAFKA_MIN_INSYNC_REPLICAS:-$MIN_ISR_DEFAULT}"

# node_vars N: the N_* variables of node N.
node_vars() {
  local n=$1 step=$(( ($1 - 1) * 10 ))
  N_ID=$n
  if (( BROKERS == 1 )); then N_DIR="$HOME_DIR"; else N_DIR="$CLUSTER_HOME/node-$n"; fi
  if (( n == 1 )); then
    N_SASL_SSL=$SASL_SSL_PORT
    N_SSL=$SSL_PORT
  else
    N_SASL_SSL=$((PORT + step + 2))
    N_SSL=$((PORT + step + 3))
  fi
  N_PORT=$((PORT + step))
  N_CPORT=$((CONTROLLER_PORT + step))
  N_DATA="$N_DIR/data"
  N_LOGS="$N_DIR/logs"
  N_PROPS="$N_DIR/server.properties"
  N_PID="$N_DIR/kafka.pid"
}

nodes() { seq 1 "$BROKERS"; }

quorum_voters() {
  local n out=()
  for n in $(nodes); do out+=("$n@127.0.0.1:$((CONTROLLER_PORT + (n - 1) * 10))"); done
  local IFS=,
  echo "${out[*]}"
}

bootstrap_servers() {
  local n out=()
  for n in $(nodes); do out+=("127.0.0.1:$((PORT + (n - 1) * 10))"); done
  local IFS=,
  echo "${out[*]}"
}

libs_current() { maven_jars_current "$POM" "$LIBS" 'kafka_2.13-*.jar'; }

cmd_setup() { maven_jars "$POM" "$LIBS" 'kafka_2.13-*.jar' broker; }

# running_pid: the pid of the current node (node_vars) when it runs.
running_pid() {
  local pid
  pid=$(read_pid "$N_PID")
  if [[ -n $pid ]] && pid_alive "$pid"; then echo "$pid"; return 0; fi
  # No (or stale) pid file: look for a broker started from this checkout's server.properties.
  pid=$(pids_with_arg "$N_PROPS" | head -n1)
  [[ -n $pid ]] && { echo "$pid"; return 0; }
  return 1
}

write_properties() {
  mkdir -p "$N_DATA" "$N_LOGS"
  # Authentication and ACLs (docs/security.md). Clients use SASL/SCRAM-SHA-512 on the broker
  # listener; the broker's own connections (inter-broker, and to the KRaft controller) log
  # in as the super user `admin` with SASL/PLAIN, whose only entry is admin's. Passwords are
  # not in this file: the DirectoryConfigProvider reads them from .local/secrets.
  local jaas_admin
  jaas_admin='org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${dir:'"$AR_SECRETS"':kafka-admin.password}" user_admin="${dir:'"$AR_SECRETS"':kafka-admin.password}";'
  local listeners="BROKER://127.0.0.1:${N_PORT}" map="BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
  if tls_on; then
    listeners+=",TLS://127.0.0.1:${N_SASL_SSL},MTLS://127.0.0.1:${N_SSL}"
    map+=",TLS:SASL_SSL,MTLS:SSL"
  fi
  local internal_isr=$(( MIN_ISR < REPLICATION_FACTOR ? MIN_ISR : REPLICATION_FACTOR ))
  (umask 077 && cat >"$N_PROPS") <<PROPS
# Generated by infra/kafka/kafka.sh on each start; edit the script, not this file.
process.roles=broker,controller
node.id=${N_ID}
controller.quorum.voters=$(quorum_voters)
listeners=${listeners},CONTROLLER://127.0.0.1:${N_CPORT}
advertised.listeners=${listeners}
controller.listener.names=CONTROLLER
inter.broker.listener.name=BROKER
listener.security.protocol.map=${map}
config.providers=dir
config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
config.providers.dir.param.allowed.paths=${AR_SECRETS}
listener.name.broker.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.broker.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.broker.plain.sasl.jaas.config=${jaas_admin}
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=${jaas_admin}
sasl.mechanism.controller.protocol=PLAIN
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
log.dirs=${N_DATA}
num.partitions=1
default.replication.factor=${REPLICATION_FACTOR}
min.insync.replicas=${MIN_ISR}
offsets.topic.replication.factor=${REPLICATION_FACTOR}
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=${REPLICATION_FACTOR}
transaction.state.log.min.isr=${internal_isr}
share.coordinator.state.topic.replication.factor=${REPLICATION_FACTOR}
share.coordinator.state.topic.min.isr=${internal_isr}
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
PROPS
  tls_on && tls_properties >>"$N_PROPS"
  return 0
}

tls_on() { [[ $TLS == 1 ]]; }

# TLS listeners (docs/security.md, "TLS"): TLS is SASL/SCRAM over TLS, the same users as the
# BROKER listener; MTLS authenticates by client certificate, its subject mapped to the
# principal (CN=projector,OU=principals,O=annual-review -> User:projector), so the same ACLs
# apply. Both present the broker certificate of tls.sh (PEM key store: no password).
tls_properties() {
  cat <<PROPS
listener.name.tls.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.tls.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.tls.ssl.keystore.type=PEM
listener.name.tls.ssl.keystore.location=${TLS_DIR}/broker.pem
listener.name.mtls.ssl.keystore.type=PEM
listener.name.mtls.ssl.keystore.location=${TLS_DIR}/broker.pem
listener.name.mtls.ssl.truststore.type=PEM
listener.name.mtls.ssl.truststore.location=${TLS_DIR}/ca.crt
listener.name.mtls.ssl.client.auth=required
listener.name.mtls.ssl.principal.mapping.rules=RULE:^CN=([a-z]+),OU=principals,O=annual-review$/\$1/,DEFAULT
PROPS
}

log_tail() {
  local f
  for f in "$N_LOGS/server.log" "$N_LOGS/kafka.out"; do
    if [[ -s $f ]]; then
      echo "----- last 40 lines of ${f#"$AR_ROOT/"} -----" >&2
      tail -n 40 "$f" >&2
    fi
  done
}

format_storage() {
  [[ -f $N_DATA/meta.properties ]] && return 0
  local java cid
  java=$(java_bin)
  if [[ -s $CLUSTER_ID_FILE ]]; then
    cid=$(cat "$CLUSTER_ID_FILE")
  else
    cid=$("$java" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    [[ -n $cid ]] || die "kafka.tools.StorageTool random-uuid printed nothing"
    echo "$cid" >"$CLUSTER_ID_FILE"
  fi
  say "formatting storage in ${N_DATA#"$AR_ROOT/"} (cluster id $cid, node $N_ID)"
  "$java" -cp "$LIBS/*" -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$N_LOGS" \
    kafka.tools.StorageTool format -t "$cid" -c "$N_PROPS" >"$N_LOGS/format.out" 2>&1 \
    || { cat "$N_LOGS/format.out" >&2; die "storage format of node $N_ID failed"; }
}

# The data folders belong to a cluster of a given size (its controller quorum is fixed at
# format time): refuse another KAFKA_BROKERS rather than start a cluster that cannot elect.
check_broker_count() {
  local had
  if [[ -s $BROKERS_FILE ]]; then
    had=$(cat "$BROKERS_FILE")
  elif [[ -f $STATE_DIR/data/meta.properties ]]; then
    had=1  # formatted before the count was recorded: the single broker
  else
    mkdir -p "$STATE_DIR"
    echo "$BROKERS" >"$BROKERS_FILE"
    return 0
  fi
  [[ $had == "$BROKERS" ]] \
    || die "the local Kafka in ${STATE_DIR#"$AR_ROOT/"} was made with $had broker(s), not KAFKA_BROKERS=$BROKERS; set KAFKA_BROKERS=$had, or stop it and delete ${STATE_DIR#"$AR_ROOT/"} (all its data) first"
  [[ -s $BROKERS_FILE ]] || echo "$BROKERS" >"$BROKERS_FILE"
}

# launch: start the current node in the background (its readiness is awaited by the caller).
launch() {
  local java f pid
  java=$(java_bin)
  write_properties
  format_storage
  # A fresh log per start: readiness looks for this start's "Kafka Server started" line, and
  # a failure shows this start's lines only.
  for f in server.log kafka.out; do
    [[ -f $N_LOGS/$f ]] && mv -f "$N_LOGS/$f" "$N_LOGS/$f.prev"
  done
  say "starting broker $N_ID on 127.0.0.1:$N_PORT (controller 127.0.0.1:$N_CPORT$(tls_on && echo "; SASL_SSL 127.0.0.1:$N_SASL_SSL, SSL 127.0.0.1:$N_SSL"))"
  # shellcheck disable=SC2086  # HEAP is a list of JVM options
  setsid "$java" $HEAP -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$N_LOGS" \
    -cp "$LIBS/*" kafka.Kafka "$N_PROPS" </dev/null >"$N_LOGS/kafka.out" 2>&1 &
  pid=$!
  echo "$pid" >"$N_PID"
}

# await_ready: until the current node's process lives, its port answers and it has logged its
# start-up (in a cluster a node logs it once the controllers' quorum has formed).
await_ready() {
  local pid deadline=$1
  pid=$(read_pid "$N_PID")
  until port_open "$N_PORT" && grep -qs "Kafka Server started" "$N_LOGS/server.log"; do
    if ! pid_alive "$pid"; then
      log_tail
      rm -f "$N_PID"
      die "broker $N_ID exited during start-up (see the log above; full log in ${N_LOGS#"$AR_ROOT/"}/)"
    fi
    if (( $(date +%s) >= deadline )); then
      log_tail
      die "broker $N_ID did not become ready within ${READY_TIMEOUT}s; it is still running as pid $pid (\`$0 stop\` to stop it)"
    fi
    sleep 0.2
  done
}

# start [NODE]: start every node that is not running (or only NODE), wait for them, then
# bootstrap. Harmless when all run; after `kill N`, `start` brings node N back.
cmd_start() {
  local pid n only=${1:-} started=() t0
  ensure_secrets
  check_broker_count
  t0=$(date +%s)
  for n in $(nodes); do
    [[ -n $only && $only != "$n" ]] && continue
    node_vars "$n"
    if pid=$(running_pid); then
      if port_open "$N_PORT"; then
        say "broker $n already running (pid $pid, 127.0.0.1:$N_PORT)"
        grep -qx 'super.users=User:admin' "$N_PROPS" 2>/dev/null \
          || die "the running broker was started without authentication (docs/security.md); restart it: \`make down\` then \`make up\`"
        if tls_on && ! grep -q "TLS://127.0.0.1:${N_SASL_SSL}" "$N_PROPS" 2>/dev/null; then
          die "the running broker has no TLS listener on 127.0.0.1:${N_SASL_SSL} (KAFKA_TLS=1); restart it: \`make down\` then \`make up\` (or KAFKA_TLS=0)"
        fi
        continue
      fi
      die "broker $n from this checkout is running (pid $pid) but 127.0.0.1:$N_PORT does not answer; run \`$0 stop\` first"
    fi
    local p ports=("$N_PORT" "$N_CPORT")
    tls_on && ports+=("$N_SASL_SSL" "$N_SSL")
    for p in "${ports[@]}"; do
      port_open "$p" && die "port 127.0.0.1:$p is already in use by another process (another checkout's broker?); stop it or set KAFKA_PORT / KAFKA_CONTROLLER_PORT (TLS: KAFKA_SASL_SSL_PORT / KAFKA_SSL_PORT, or KAFKA_TLS=0)"
    done
    if (( ${#started[@]} == 0 )); then
      if tls_on; then "$HERE/tls.sh" setup; fi
      libs_current || die "broker jars missing or stale; run \`$0 setup\` (or \`make setup\`) first"
    fi
    launch
    started+=("$n")
  done
  if (( ${#started[@]} )); then
    local deadline=$(( $(date +%s) + READY_TIMEOUT ))
    for n in "${started[@]}"; do
      node_vars "$n"
      await_ready "$deadline"
    done
    say "broker(s) ${started[*]} up in $(elapsed "$t0")"
  fi
  bootstrap
}

# bootstrap: as admin (SASL/PLAIN, the entry the broker itself uses), create or update the
# SCRAM credentials of every principal from .local/secrets, create/align the topics of
# contracts/topics.py (replication factor and min.insync.replicas from the broker count), and
# create the principals' ACLs on them. Idempotent; run on every start, so a changed password
# file takes effect with `make up`.
bootstrap() {
  local py
  py=$(venv_python)
  (cd "$AR_ROOT" && env -u AR_KAFKA_USERNAME -u AR_KAFKA_PASSWORD \
      AR_KAFKA_BOOTSTRAP="$(bootstrap_servers)" AR_PRINCIPAL=admin AR_SECRETS_DIR="$AR_SECRETS" \
      AR_KAFKA_REPLICATION_FACTOR="$REPLICATION_FACTOR" AR_KAFKA_MIN_INSYNC_REPLICAS="$MIN_ISR" \
      AR_KAFKA_SASL_MECHANISM=PLAIN "$py" -m services.platform.kafka.admin bootstrap) \
    || { node_vars 1; log_tail; die "bootstrapping users, topics and ACLs failed"; }
}

# stop [NODE]: SIGTERM every node (or NODE), wait up to 30 s each, then SIGKILL. The nodes of
# a cluster are stopped together: stopped one by one, the last one waits for a controller
# quorum that has already gone, and only SIGKILL ends it.
cmd_stop() {
  local n only=${1:-} waits=() rc=0 w
  for n in $(nodes); do
    [[ -n $only && $only != "$n" ]] && continue
    stop_node "$n" &
    waits+=("$!")
  done
  for w in "${waits[@]}"; do wait "$w" || rc=1; done
  (( rc == 0 )) || die "a broker could not be stopped"
  say "stopped"
}

stop_node() {
  local pid stray
  node_vars "$1"
  if ! pid=$(running_pid); then
    say "broker $N_ID not running"
    rm -f "$N_PID"
    return 0
  fi
  say "stopping broker $N_ID (pid $pid)"
  stop_pid "$pid" kafka 30 || { warn "could not stop pid $pid"; return 1; }
  # Belt and braces: nothing started from this checkout's server.properties may survive.
  for stray in $(pids_with_arg "$N_PROPS"); do
    warn "stray broker process $stray; killing it"
    stop_pid "$stray" kafka 5 || true
  done
  rm -f "$N_PID"
}

# kill NODE: SIGKILL, no shutdown at all (the reliability tests' broker loss).
cmd_kill() {
  local n=${1:-} pid
  [[ $n =~ ^[1-9]$ ]] && (( n <= BROKERS )) || die "usage: $0 kill NODE (1..$BROKERS)"
  node_vars "$n"
  pid=$(running_pid) || { say "broker $n not running"; return 0; }
  belongs_to_repo "$pid" || die "pid $pid is not this checkout's broker"
  kill -KILL "$pid"
  while pid_alive "$pid"; do sleep 0.05; done
  rm -f "$N_PID"
  say "broker $n killed (pid $pid, SIGKILL)"
}

cmd_status() {
  local pid n rc=0 up=0
  for n in $(nodes); do
    node_vars "$n"
    if pid=$(running_pid) && port_open "$N_PORT"; then
      say "broker $n running: pid $pid, 127.0.0.1:$N_PORT (controller 127.0.0.1:$N_CPORT$(grep -q '^listeners=.*TLS://' "$N_PROPS" 2>/dev/null && echo "; SASL_SSL 127.0.0.1:$N_SASL_SSL, SSL 127.0.0.1:$N_SSL"))"
      up=$((up + 1))
    elif [[ -n ${pid:-} ]]; then
      say "broker $n starting or unhealthy: pid $pid alive but 127.0.0.1:$N_PORT does not answer"
      rc=3
    else
      say "broker $n stopped (port $N_PORT)"
      rc=3
    fi
    pid=
  done
  (( BROKERS > 1 )) && say "$up of $BROKERS brokers running; bootstrap $(bootstrap_servers)"
  return $rc
}

cmd_logs() {
  local n=1
  if [[ ${1:-} =~ ^[1-9]$ ]]; then n=$1; shift; fi
  node_vars "$n"
  [[ -f $N_LOGS/server.log ]] || die "no broker log yet (${N_LOGS#"$AR_ROOT/"}/server.log)"
  if [[ ${1:-} == -n ]]; then tail -n 100 "$N_LOGS/server.log"; else tail -n 100 -F "$N_LOGS/server.log"; fi
}

case "${1:-}" in
  setup) cmd_setup ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  kill) cmd_kill "${2:-}" ;;
  status) cmd_status ;;
  bootstrap-servers) bootstrap_servers ;;
  logs) shift; cmd_logs "$@" ;;
  *) echo "usage: $0 setup|start [NODE]|stop [NODE]|kill NODE|status|bootstrap-servers|logs [NODE] [-n]" >&2; exit 2 ;;
esac
