#!/usr/bin/env bash
# One entry point for the project-local servers (the Makefile calls it).
#   ctl.sh setup    system packages (only missing ones), .venv, Kafka and veraPDF jars, Keycloak,
#                   PostgreSQL user
#   ctl.sh lock     regenerate requirements-dev.lock and requirements.lock from pyproject.toml
#   ctl.sh up       setup, start PostgreSQL and Kafka, create topics, apply migrations, and
#                   Keycloak (the office workspace's OpenID provider; AR_KEYCLOAK=0: not)
#   ctl.sh down     stop both servers and any project process recorded in .local/*.pid
#   ctl.sh status   exit 0 when both servers run, 3 otherwise
#   ctl.sh test [pytest args]   setup, up, pytest, and always down; pytest's exit code
#   ctl.sh test-cluster [pytest args]   the same with a three-broker Kafka, over tests/cluster
#   ctl.sh clean    down, then remove .local (and a /var/tmp fallback cluster)
#   ctl.sh exec CMD [ARGS]   run CMD from the repo root with the AR_* variables below
#   ctl.sh secrets  create the missing password files in .local/secrets (setup does it too) and
#                   their copies for docker-compose.yml in .local/compose-secrets
# Ports: AR_PG_PORT (15432), KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), the broker's
# TLS listeners KAFKA_SASL_SSL_PORT (KAFKA_PORT+2) and KAFKA_SSL_PORT (KAFKA_PORT+3); the Python
# settings AR_DATABASE_URL / AR_KAFKA_BOOTSTRAP follow them unless set explicitly.
# KAFKA_BROKERS (1): a cluster of that many KRaft nodes, node n on KAFKA_PORT+10*(n-1) and
# KAFKA_CONTROLLER_PORT+10*(n-1); AR_KAFKA_BOOTSTRAP then lists every node, and the topics get
# AR_KAFKA_REPLICATION_FACTOR (min(brokers, 3)) and AR_KAFKA_MIN_INSYNC_REPLICAS (2 from 3).
# Credentials (docs/security.md): the processes started here (tests, demo, bench, `exec`) run
# as AR_PRINCIPAL (default admin: the Kafka super user and the database owner), with the
# passwords read from AR_SECRETS_DIR=.local/secrets, never from the environment; a namespace
# starts each service as its own principal.
set -euo pipefail
AR_COMPONENT=ctl
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

export AR_PG_PORT="${AR_PG_PORT:-15432}"
export KAFKA_PORT="${KAFKA_PORT:-19092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
# The broker's TLS listeners (infra/kafka/tls.sh; KAFKA_TLS=0 turns them off).
export KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-$((KAFKA_PORT + 2))}"
export KAFKA_SSL_PORT="${KAFKA_SSL_PORT:-$((KAFKA_PORT + 3))}"
export AR_DATABASE_URL="${AR_DATABASE_URL:-postgresql://annual_review@127.0.0.1:${AR_PG_PORT}/annual_review}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-1}"
if [[ -z ${AR_KAFKA_BOOTSTRAP:-} ]]; then
  AR_KAFKA_BOOTSTRAP=$(for ((n = 0; n < KAFKA_BROKERS; n++)); do printf '127.0.0.1:%s,' $((KAFKA_PORT + 10 * n)); done)
  AR_KAFKA_BOOTSTRAP=${AR_KAFKA_BOOTSTRAP%,}
fi
export AR_KAFKA_BOOTSTRAP
# The topics' replication (services/platform/kafka/admin.py reads them): follow the cluster.
export AR_KAFKA_REPLICATION_FACTOR="${AR_KAFKA_REPLICATION_FACTOR:-$(( KAFKA_BROKERS < 3 ? KAFKA_BROKERS : 3 ))}"
export AR_KAFKA_MIN_INSYNC_REPLICAS="${AR_KAFKA_MIN_INSYNC_REPLICAS:-$(( AR_KAFKA_REPLICATION_FACTOR >= 3 ? 2 : 1 ))}"
export AR_SECRETS_DIR="${AR_SECRETS_DIR:-$AR_SECRETS}"
export AR_PRINCIPAL="${AR_PRINCIPAL-admin}"

# The office workspace's OpenID provider (infra/keycloak/keycloak.sh, docs/office.md), and the
# port the workspace listens on in tests and the demo (the realm's redirect address).
# AR_KEYCLOAK=0: `up` does not start it (the office's tests start it when they run).
export KEYCLOAK_PORT="${KEYCLOAK_PORT:-18080}"
export AR_OFFICE_PORT="${AR_OFFICE_PORT:-8090}"
AR_KEYCLOAK="${AR_KEYCLOAK:-1}"
KEYCLOAK="$AR_ROOT/infra/keycloak/keycloak.sh"
KAFKA="$AR_ROOT/infra/kafka/kafka.sh"
VERAPDF="$AR_ROOT/infra/verapdf/verapdf.sh"
PG="$AR_ROOT/infra/postgres/pg.sh"
VENV="$AR_ROOT/.venv"
VENV_STAMP="$VENV/.annual-review-installed"
PYTHON_BIN="${AR_PYTHON:-python3.11}"
# Debian packages the project needs at run time (WeasyPrint: Pango, HarfBuzz; pdftoppm for
# rendering checks; a font; openssl for the local broker's test certificates) and for the
# web's browser tests (Chromium: browsers cannot be downloaded, Playwright drives Debian's; npm
# installs axe-core).
DEB_PACKAGES=(poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
  openssl chromium)

setup_system_packages() {
  local missing=() p
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [[ -x ${AR_PG_BIN:-/usr/lib/postgresql/15/bin}/postgres ]] || missing+=(postgresql-15)
  command -v java >/dev/null || [[ -x ${JAVA_HOME:-/nonexistent}/bin/java ]] \
    || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v npm >/dev/null || missing+=(npm)
  command -v "$PYTHON_BIN" >/dev/null || [[ -x $VENV/bin/python ]] || missing+=(python3.11 python3.11-venv)
  if (( ${#missing[@]} )); then
    apt_install "${missing[@]}"
  else
    say "system packages present"
  fi
}

# The locks (docs/security.md, "Dependencies"): requirements-dev.lock is every distribution the
# venv holds, runtime and dev, each with its sha256 hashes; requirements.lock is the runtime
# subset the Dockerfile installs, at the same versions. Both come from pyproject.toml through
# `ctl.sh lock`, never by hand.
DEV_LOCK="$AR_ROOT/requirements-dev.lock"
RUNTIME_LOCK="$AR_ROOT/requirements.lock"

setup_venv() {
  local want
  # The lock decides what is installed; pyproject.toml still matters for the project's own
  # editable install (its entry points, package data), so a change to either reinstalls.
  want=$(cat "$DEV_LOCK" "$AR_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)
  if [[ -x $VENV/bin/python && -f $VENV_STAMP && $(cat "$VENV_STAMP") == "$want" ]]; then
    say ".venv is current with requirements-dev.lock and pyproject.toml"
    return 0
  fi
  if [[ ! -x $VENV/bin/python ]]; then
    command -v "$PYTHON_BIN" >/dev/null || die "$PYTHON_BIN not found"
    say "creating .venv with $PYTHON_BIN"
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  say "pip install --require-hashes -r requirements-dev.lock (the lock changed or first install)"
  (cd "$AR_ROOT" && "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    --require-hashes --no-deps -r "$DEV_LOCK") || die "pip install from requirements-dev.lock failed"
  # The project itself: no dependency of its own to resolve (the lock has them all), and built
  # with the locked setuptools rather than one pip would fetch, unhashed, for an isolated build.
  (cd "$AR_ROOT" && "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    --no-deps --no-build-isolation -e .) || die "pip install -e . failed"
  echo "$want" >"$VENV_STAMP"
}

# Regenerate both locks from pyproject.toml with uv (pinned in the dev extra). Versions already
# in the locks are kept unless pyproject.toml asks otherwise (or LOCK_UPGRADE=1, which takes the
# newest version of every transitive dependency the pins allow). The build backend
# ([build-system] requires) is locked too, for the --no-build-isolation installs above and in
# the Dockerfile. The runtime lock is resolved under the dev lock's versions as constraints, so
# the image runs exactly what the tests ran.
cmd_lock() {
  local t0 build_requires upgrade=()
  t0=$(date +%s)
  setup_venv
  [[ -x $VENV/bin/uv ]] || die "no uv in .venv (it is pinned in pyproject.toml's dev extra)"
  [[ ${LOCK_UPGRADE:-0} == 1 ]] && upgrade=(--upgrade)
  build_requires=$("$VENV/bin/python" -c \
    'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))') \
    || die "cannot read [build-system] requires from pyproject.toml"
  local common=(--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
    --custom-compile-command "make lock" --quiet "${upgrade[@]}")
  cd "$AR_ROOT" || die "no $AR_ROOT"
  "$VENV/bin/uv" pip compile pyproject.toml - --extra dev "${common[@]}" \
    -o requirements-dev.lock <<<"$build_requires" || die "uv pip compile (requirements-dev.lock) failed"
  "$VENV/bin/uv" pip compile pyproject.toml - -c requirements-dev.lock "${common[@]}" \
    -o requirements.lock <<<"$build_requires" || die "uv pip compile (requirements.lock) failed"
  say "requirements-dev.lock ($(grep -c '^[A-Za-z]' requirements-dev.lock) distributions) and requirements.lock ($(grep -c '^[A-Za-z]' requirements.lock)) written in $(elapsed "$t0"); commit them with pyproject.toml"
}

# axe-core for the browser tests, at the version infra/web/package.json pins.
setup_axe() {
  local dir="$AR_ROOT/infra/web"
  if [[ -f $dir/node_modules/axe-core/axe.min.js ]]; then
    say "axe-core present"
    return 0
  fi
  say "npm install in infra/web (axe-core)"
  (cd "$dir" && npm install --no-audit --no-fund --silent) || die "npm install in infra/web failed"
}

cmd_setup() {
  local t0
  t0=$(date +%s)
  ensure_secrets
  setup_system_packages
  setup_venv
  setup_axe
  "$KAFKA" setup
  "$KEYCLOAK" setup
  "$VERAPDF" setup
  "$PG" setup
  say "setup done in $(elapsed "$t0")"
}

cmd_up() {
  local t0
  t0=$(date +%s)
  cmd_setup
  "$PG" start
  "$KAFKA" start
  (cd "$AR_ROOT" && "$(venv_python)" -m services.platform.migrations apply) \
    || die "applying migrations failed"
  # Only the office workspace needs it: a Keycloak that does not start is reported, and
  # leaves everything else up (the office's tests then fail saying so).
  if [[ $AR_KEYCLOAK == 1 ]]; then
    "$KEYCLOAK" start || warn "Keycloak did not start (log: .local/keycloak/keycloak.log)"
  fi
  say "up in $(elapsed "$t0"): PostgreSQL 127.0.0.1:$AR_PG_PORT, Kafka $AR_KAFKA_BOOTSTRAP"
}

# Other project processes (services started by tests or the demo) record their pid in
# .local/<name>.pid or .local/<dir>/<name>.pid; down stops those that are still ours.
stop_recorded_processes() {
  local f pid
  shopt -s nullglob
  for f in "$AR_LOCAL"/*.pid "$AR_LOCAL"/*/*.pid; do
    [[ $f == "$AR_LOCAL/kafka/kafka.pid" ]] && continue  # kafka.sh stop handles the broker
    [[ $f == "$AR_LOCAL/keycloak/keycloak.pid" ]] && continue  # keycloak.sh stop
    pid=$(read_pid "$f")
    if [[ -n $pid ]] && belongs_to_repo "$pid"; then
      say "stopping ${f#"$AR_ROOT/"} (pid $pid)"
      stop_pid "$pid" "${f##*/}" 15 || warn "pid $pid from $f survived SIGKILL"
    fi
    rm -f "$f"
  done
  shopt -u nullglob
}

cmd_down() {
  local rc=0
  stop_recorded_processes
  "$KEYCLOAK" stop || rc=1
  "$KAFKA" stop || rc=1
  # A cluster (KAFKA_BROKERS>1) left running is stopped too, whatever KAFKA_BROKERS says now.
  if [[ -s $AR_LOCAL/kafka-cluster/brokers && $KAFKA_BROKERS == 1 ]]; then
    KAFKA_BROKERS=$(cat "$AR_LOCAL/kafka-cluster/brokers") "$KAFKA" stop || rc=1
  fi
  "$PG" stop || rc=1
  return $rc
}

cmd_status() {
  local rc=0
  "$PG" status || rc=3
  "$KAFKA" status || rc=3
  return $rc
}

cmd_test() {
  cmd_test_dirs tests/unit tests/integration tests/e2e tests/reliability -- "$@"
}

# test-dirs DIR... -- [pytest args]: up, pytest over the DIRs that exist, always down.
cmd_test_dirs() {
  local t0 rc=0 dirs=() d
  t0=$(date +%s)
  while (( $# )) && [[ $1 != -- ]]; do
    [[ -d $AR_ROOT/$1 ]] && dirs+=("$1")
    shift
  done
  (( $# )) && shift
  # A separate process, so that `set -e` applies inside it (it does not in an `if` condition).
  if "$AR_ROOT/infra/ctl.sh" up; then
    local t1
    t1=$(date +%s)
    (cd "$AR_ROOT" && "$(venv_python)" -m pytest -p no:cacheprovider "${dirs[@]}" "$@") || rc=$?
    say "pytest finished with exit code $rc in $(elapsed "$t1")"
    (( rc == 5 )) && warn "pytest collected no tests: that is a failure"
  else
    rc=$?
    warn "bringing the servers up failed (exit code $rc); not running the tests"
  fi
  cmd_down || warn "stopping the servers reported a problem"
  say "test run finished in $(elapsed "$t0") with exit code $rc"
  return $rc
}

# The reliability tests on a three-broker cluster (tests/cluster): their own Kafka nodes in
# .local/kafka-cluster (KAFKA_BROKERS=3), this checkout's PostgreSQL; always down at the end.
cmd_test_cluster() {
  KAFKA_BROKERS=3 AR_KAFKA_BOOTSTRAP= AR_KAFKA_REPLICATION_FACTOR= AR_KAFKA_MIN_INSYNC_REPLICAS= \
    "$AR_ROOT/infra/ctl.sh" test-dirs tests/cluster -- "$@"
}

# The unit tests alone: only the virtualenv is needed (no Debian packages, jars or servers),
# so a developer gets the verdict of tests/unit in seconds.
cmd_test_unit() {
  local t0 rc=0
  t0=$(date +%s)
  setup_venv
  (cd "$AR_ROOT" && "$(venv_python)" -m pytest -p no:cacheprovider tests/unit "$@") || rc=$?
  (( rc == 5 )) && warn "pytest collected no tests: that is a failure"
  say "unit tests finished in $(elapsed "$t0") with exit code $rc"
  return $rc
}

cmd_clean() {
  local base
  cmd_down
  base=$("$PG" dir 2>/dev/null) || base=""
  if [[ -n $base && $base != "$AR_LOCAL/"* && $base == /var/tmp/annual-review-*/postgres ]]; then
    say "removing $(dirname "$base")"
    rm -rf "$(dirname "$base")"
  fi
  say "removing .local"
  rm -rf "$AR_LOCAL"
}

case "${1:-}" in
  setup) cmd_setup ;;
  lock) cmd_lock ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  test) shift; cmd_test "$@" ;;
  test-unit) shift; cmd_test_unit "$@" ;;
  test-cluster) shift; cmd_test_cluster "$@" ;;
  test-dirs) shift; cmd_test_dirs "$@" ;;
  clean) cmd_clean ;;
  exec) shift; cd "$AR_ROOT" && exec "$@" ;;
  secrets)
    ensure_secrets
    compose_secrets
    say "passwords in ${AR_SECRETS#"$AR_ROOT/"}/, copies for docker-compose.yml in .local/compose-secrets/ (docs/security.md)" ;;
  *) echo "usage: $0 setup|lock|up|down|status|test [pytest args]|test-unit [pytest args]|test-cluster [pytest args]|clean|exec CMD [ARGS]|secrets" >&2; exit 2 ;;
esac
