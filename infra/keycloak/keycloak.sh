#!/usr/bin/env bash
# The office workspace's local OpenID provider: Keycloak, from its official distribution on
# Maven Central, run from .local/keycloak on loopback (docs/office.md).
#   keycloak.sh setup    fetch the pinned zip with Maven and unpack it (skipped when current)
#   keycloak.sh start    start it (start-dev: an H2 database in .local/keycloak, thrown away at
#                        each start), import the realm infra/keycloak/realm.json, wait for
#                        the realm's OpenID discovery document
#   keycloak.sh stop     stop it
#   keycloak.sh status   exit 0 when it answers, 3 otherwise
# Ports: KEYCLOAK_PORT (18080), on 127.0.0.1 only (Keycloak's default is every interface).
# The office client's secret and the test users' passwords come from .local/secrets
# (keycloak-*.password, made by `make setup`), never from the repository: the realm file
# names them as ${...} placeholders that Keycloak fills from this script's environment.
set -euo pipefail
AR_COMPONENT=keycloak
# shellcheck source=../lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)/lib.sh"

# Pinned: a new version is a reviewed change (the realm file's format, start time, memory).
KEYCLOAK_VERSION=26.5.6
KEYCLOAK_PORT="${KEYCLOAK_PORT:-18080}"
# The first start builds the distribution for its options (a minute or more on a busy machine).
KEYCLOAK_START_TIMEOUT_S="${KEYCLOAK_START_TIMEOUT_S:-600}"
# Where the office workspace under test (and the demo) listens: its sign-in callback and the
# address the provider returns to after sign-out.
AR_OFFICE_PORT="${AR_OFFICE_PORT:-8090}"
KC_BASE="$AR_LOCAL/keycloak"
KC_HOME="$KC_BASE/keycloak-$KEYCLOAK_VERSION"
KC_PIDFILE="$KC_BASE/keycloak.pid"
KC_LOG="$KC_BASE/keycloak.log"
REALM_FILE="$AR_ROOT/infra/keycloak/realm.json"
REALM=annual-review-office
# Keycloak 26 deprecates Java 17 for its server: a newer JDK when the machine has one.
KC_JAVA_CANDIDATES=(/usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-21-jdk-amd64
  /usr/lib/jvm/java-21-openjdk-amd64)

kc_java_home() {
  local d
  for d in "${KC_JAVA_CANDIDATES[@]}"; do
    [[ -x $d/bin/java ]] && { echo "$d"; return 0; }
  done
  [[ -n ${JAVA_HOME:-} ]] && { echo "$JAVA_HOME"; return 0; }
  dirname "$(dirname "$(readlink -f "$(java_bin)")")"
}

cmd_setup() {
  local t0 zip
  if [[ -x $KC_HOME/bin/kc.sh ]]; then
    say "Keycloak $KEYCLOAK_VERSION is present (${KC_HOME#"$AR_ROOT/"})"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install -y maven)"
  command -v unzip >/dev/null || command -v python3 >/dev/null || die "need unzip or python3"
  t0=$(date +%s)
  mkdir -p "$KC_BASE"
  say "fetching keycloak-quarkus-dist $KEYCLOAK_VERSION (zip) with Maven"
  if ! mvn -q -B -Dstyle.color=never dependency:copy \
      -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
      -DoutputDirectory="$KC_BASE/dl" >"$KC_BASE/mvn.log" 2>&1; then
    tail -n 40 "$KC_BASE/mvn.log" >&2
    die "mvn dependency:copy failed (network? ~/.m2 settings?); log: .local/keycloak/mvn.log"
  fi
  zip="$KC_BASE/dl/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
  [[ -s $zip ]] || die "Maven finished but $zip is missing"
  rm -rf "$KC_HOME.new" && mkdir -p "$KC_HOME.new"
  if command -v unzip >/dev/null; then
    unzip -q "$zip" -d "$KC_HOME.new"
  else
    python3 -m zipfile -e "$zip" "$KC_HOME.new"
  fi
  rm -rf "$KC_HOME"
  mv "$KC_HOME.new/keycloak-$KEYCLOAK_VERSION" "$KC_HOME"
  rm -rf "$KC_HOME.new" "$KC_BASE/dl"
  chmod +x "$KC_HOME"/bin/*.sh
  say "Keycloak $KEYCLOAK_VERSION unpacked in $(elapsed "$t0")"
}

kc_pid() {
  local pid
  pid=$(read_pid "$KC_PIDFILE")
  [[ -n $pid ]] && belongs_to_repo "$pid" && echo "$pid"
}

discovery_url() { echo "http://127.0.0.1:$KEYCLOAK_PORT/realms/$REALM/.well-known/openid-configuration"; }

answers() {
  command -v curl >/dev/null || { port_open "$KEYCLOAK_PORT"; return; }
  curl -fsS -o /dev/null --max-time 2 "$(discovery_url)" 2>/dev/null
}

cmd_start() {
  local t0 pid java_home name
  if [[ -n $(kc_pid || true) ]] && answers; then
    say "already running on 127.0.0.1:$KEYCLOAK_PORT"
    return 0
  fi
  port_open "$KEYCLOAK_PORT" && die "port $KEYCLOAK_PORT is in use by another process (KEYCLOAK_PORT=...)"
  cmd_setup
  ensure_secrets
  t0=$(date +%s)
  java_home=$(kc_java_home)
  # The realm is imported from the file when its H2 database is new; the database is thrown
  # away whenever the realm file, a password or the workspace's port changed, so the realm
  # is always the repository's, with the secrets' passwords (a stamp records what it was made
  # from). Keeping it otherwise spares the schema's creation (seconds) at every start.
  local stamp
  stamp=$( { cat "$REALM_FILE"; echo "$AR_OFFICE_PORT"; cat "$AR_SECRETS"/keycloak-*.password; } | sha256sum | cut -d' ' -f1)
  if [[ ! -f $KC_BASE/realm.stamp || $(cat "$KC_BASE/realm.stamp") != "$stamp" ]]; then
    rm -rf "$KC_HOME/data/h2" "$KC_BASE/realm.stamp"
  fi
  rm -rf "$KC_HOME/data/import"
  mkdir -p "$KC_HOME/data/import"
  cp "$REALM_FILE" "$KC_HOME/data/import/$REALM-realm.json"
  for name in author approver approver2 dataofficer viewer; do
    export "KC_USER_PASSWORD_${name^^}=$(secret "keycloak-$name")"
  done
  export KC_OFFICE_CLIENT_SECRET
  KC_OFFICE_CLIENT_SECRET=$(secret keycloak-office-client)
  export KC_OFFICE_BASE_URL="http://127.0.0.1:$AR_OFFICE_PORT"
  # The admin console's own user (the master realm), for a developer looking at the realm.
  export KC_BOOTSTRAP_ADMIN_USERNAME=admin
  KC_BOOTSTRAP_ADMIN_PASSWORD=$(secret keycloak-admin)
  export KC_BOOTSTRAP_ADMIN_PASSWORD
  # A bounded heap: by default Keycloak takes a share of the machine's memory.
  export JAVA_OPTS_KC_HEAP="-Xms64m -Xmx512m"
  say "starting Keycloak $KEYCLOAK_VERSION on 127.0.0.1:$KEYCLOAK_PORT (Java: $java_home)"
  (
    cd "$KC_BASE"
    JAVA_HOME=$java_home setsid "$KC_HOME/bin/kc.sh" start-dev \
      --http-host=127.0.0.1 --http-port="$KEYCLOAK_PORT" \
      --hostname-strict=false --health-enabled=false --metrics-enabled=false \
      --import-realm --log=file --log-file="$KC_LOG" >/dev/null 2>"$KC_BASE/stderr.log" &
    echo $! >"$KC_PIDFILE"
  )
  pid=$(read_pid "$KC_PIDFILE")
  while ! answers; do
    pid_alive "$pid" || { tail -n 30 "$KC_LOG" "$KC_BASE/stderr.log" >&2 2>/dev/null; die "Keycloak exited; log: .local/keycloak/keycloak.log"; }
    if (( $(date +%s) - t0 > KEYCLOAK_START_TIMEOUT_S )); then
      stop_pid "$pid" keycloak 10
      die "Keycloak did not answer within $KEYCLOAK_START_TIMEOUT_S s; log: .local/keycloak/keycloak.log"
    fi
    sleep 0.5
  done
  echo "$stamp" >"$KC_BASE/realm.stamp"
  say "Keycloak answers in $(elapsed "$t0") ($(discovery_url)); RSS $(kc_rss "$pid") MB"
}

# kc_rss PID: resident memory of the process tree under PID, in MB.
kc_rss() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    total=$(( total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0) ))
  done
  echo $(( total / 1024 ))
}

cmd_stop() {
  local pid
  pid=$(kc_pid || true)
  if [[ -n $pid ]]; then
    say "stopping Keycloak (pid $pid)"
    stop_pid "$pid" keycloak 30 || die "Keycloak (pid $pid) survived SIGKILL"
  fi
  rm -f "$KC_PIDFILE"
}

cmd_status() {
  if answers; then say "running on 127.0.0.1:$KEYCLOAK_PORT"; else say "not running"; return 3; fi
}

case "${1:-}" in
  setup) cmd_setup ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 setup|start|stop|status" >&2; exit 2 ;;
esac
