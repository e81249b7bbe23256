# Helpers shared by the infra scripts. Source it; do not run it.
# Every path is derived from this file's location, never from the machine.

AR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
AR_LOCAL="$AR_ROOT/.local"
# Passwords of the local servers' principals: one file each (docs/security.md).
AR_SECRETS="$AR_LOCAL/secrets"
SECRET_NAMES=(
  kafka-admin kafka-cms kafka-projector kafka-letters kafka-operator
  pg-postgres pg-annual_review pg-ar_projector pg-ar_letters pg-ar_operator pg-ar_web
  pg-ar_publication
)

say()  { printf '[%s] %s\n' "${AR_COMPONENT:-infra}" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "${AR_COMPONENT:-infra}" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "${AR_COMPONENT:-infra}" "$*" >&2; exit 1; }

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_alive PID: true when the process exists (and is not a zombie).
pid_alive() {
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

# read_pid FILE: prints the pid recorded in FILE, or nothing.
read_pid() {
  [[ -r $1 ]] && tr -dc '0-9' <"$1"
}

# pids_with_arg ARG: pids of processes having ARG as one exact command-line argument.
pids_with_arg() {
  local want=$1 d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [[ -r $d/cmdline ]] || continue
    if tr '\0' '\n' <"$d/cmdline" 2>/dev/null | grep -qxF -- "$want"; then
      echo "$pid"
    fi
  done
}

# belongs_to_repo PID: true when the process runs from this repository (its command line
# names a path inside it, or its working directory is inside it). Guards against a pid file
# whose pid has been reused by an unrelated process.
belongs_to_repo() {
  local pid=$1 cwd
  pid_alive "$pid" || return 1
  if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$AR_ROOT/"; then
    return 0
  fi
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [[ $cwd == "$AR_ROOT" || $cwd == "$AR_ROOT/"* ]]
}

# stop_pid PID NAME [GRACE_SECONDS]: SIGTERM (to its process group when it leads one),
# wait up to GRACE seconds, then SIGKILL.
stop_pid() {
  local pid=$1 name=$2 grace=${3:-30} target waited=0
  pid_alive "$pid" || return 0
  target=$pid
  if [[ $(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') == "$pid" ]]; then
    target=-$pid
  fi
  kill -TERM -- "$target" 2>/dev/null || true
  while pid_alive "$pid" && (( waited < grace * 10 )); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if pid_alive "$pid"; then
    warn "$name (pid $pid) did not stop within ${grace}s; sending SIGKILL"
    kill -KILL -- "$target" 2>/dev/null || true
    sleep 0.5
  fi
  ! pid_alive "$pid"
}

# venv_python: the project's interpreter.
venv_python() {
  local py="$AR_ROOT/.venv/bin/python"
  [[ -x $py ]] || die "no virtualenv at .venv; run \`make setup\` first"
  echo "$py"
}

# elapsed START_SECONDS: seconds since START as a short string.
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# apt_install PKG...: install Debian packages (apt-get update first). Needs root or sudo.
apt_install() {
  local sudo=()
  if (( EUID != 0 )); then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null \
      || die "need root to install: $* (run: sudo apt-get install -y $*)"
    sudo=(sudo -n)
  fi
  command -v apt-get >/dev/null || die "apt-get not found; install by hand: $*"
  say "installing Debian packages: $*"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    || die "apt-get update failed"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    || die "apt-get install $* failed"
}

# ensure_secrets: create the missing password files in .local/secrets (directory 0700, files
# 0600, 48 random hex digits, no newline). Existing files are kept: to rotate a password,
# replace its file and run `make up` again (docs/security.md).
ensure_secrets() {
  local name f
  (umask 077 && mkdir -p "$AR_SECRETS")
  chmod 700 "$AR_SECRETS"
  for name in "${SECRET_NAMES[@]}"; do
    f="$AR_SECRETS/$name.password"
    if [[ ! -s $f ]]; then
      (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$f.new" && mv -f "$f.new" "$f") \
        || die "cannot write $f"
    fi
    chmod 600 "$f"
  done
  ensure_office_key
}

# ensure_office_key: the office's Ed25519 signing key (office-signing.key, 0600, read by the
# operator's processes only) and its public key (office-signing.pub, what the projector
# trusts). An existing key is kept: to rotate, see docs/operations.md.
ensure_office_key() {
  local key="$AR_SECRETS/office-signing.key" pub="$AR_SECRETS/office-signing.pub"
  command -v openssl >/dev/null || die "openssl not found: install it (Debian: apt-get install -y openssl)"
  if [[ ! -s $key ]]; then
    (umask 077 && openssl genpkey -algorithm ed25519 -out "$key.new" 2>/dev/null && mv -f "$key.new" "$key") \
      || die "cannot write $key"
  fi
  chmod 600 "$key"
  if [[ ! -s $pub || $key -nt $pub ]]; then
    openssl pkey -in "$key" -pubout -out "$pub.new" && mv -f "$pub.new" "$pub" || die "cannot write $pub"
  fi
  chmod 644 "$pub"
}

# compose_secrets: copies of the passwords for docker-compose.yml in .local/compose-secrets
# (directory 0700; files 0644, because Docker bind-mounts a file secret with its host
# permissions and the containers' users are not this one).
compose_secrets() {
  local name dir="$AR_LOCAL/compose-secrets"
  ensure_secrets
  (umask 077 && mkdir -p "$dir")
  chmod 700 "$dir"
  for name in "${SECRET_NAMES[@]}"; do
    install -m 0644 "$AR_SECRETS/$name.password" "$dir/$name.password"
  done
  # The public key only: no container signs office events (the operator's CLI runs on the host).
  install -m 0644 "$AR_SECRETS/office-signing.pub" "$dir/office-signing.pub"
}

# secret NAME: prints the password in .local/secrets/NAME.password.
secret() {
  local f="$AR_SECRETS/$1.password"
  [[ -s $f ]] || die "missing secret $f (run \`make setup\`)"
  tr -d '\n' <"$f"
}

# java_bin: the java to run (JAVA_HOME first), or die saying what to install.
java_bin() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then echo "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null; then command -v java
  else die "java not found: install a Java 17+ runtime (Debian: apt-get install -y openjdk-17-jre-headless)"
  fi
}

# maven_jars_current POM DIR JAR_GLOB: true when DIR holds the jars of POM as it is now
# (DIR.stamp records the pom's sha256) and one matching JAR_GLOB is among them.
maven_jars_current() {
  local pom=$1 dir=$2 glob=$3
  [[ -f $dir.stamp && $(cat "$dir.stamp") == "$(sha256sum "$pom" | cut -d' ' -f1)" ]] \
    && compgen -G "$dir/$glob" >/dev/null
}

# maven_jars POM DIR JAR_GLOB WHAT: fetch the runtime jars of POM into DIR (from Maven Central,
# through ~/.m2) unless they are current; WHAT names them in the messages.
maven_jars() {
  local pom=$1 dir=$2 glob=$3 what=$4 t0 tmp log
  if maven_jars_current "$pom" "$dir" "$glob"; then
    say "$what jars are current ($(find "$dir" -name '*.jar' | wc -l) jars in ${dir#"$AR_ROOT/"})"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install -y maven)"
  java_bin >/dev/null
  t0=$(date +%s)
  say "fetching $what jars with Maven (pom sha256 changed or jars missing)"
  mkdir -p "$(dirname "$dir")"
  tmp="$dir.new"
  log="$(dirname "$dir")/mvn.log"
  rm -rf "$tmp"
  if ! mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" -DincludeScope=runtime >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "mvn dependency:copy-dependencies failed (network? ~/.m2 settings?); log: ${log#"$AR_ROOT/"}"
  fi
  compgen -G "$tmp/$glob" >/dev/null || die "Maven finished but no $glob arrived"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  sha256sum "$pom" | cut -d' ' -f1 >"$dir.stamp"
  say "fetched $(find "$dir" -name '*.jar' | wc -l) jars in $(elapsed "$t0")"
}
