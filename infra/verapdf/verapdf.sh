#!/usr/bin/env bash
# veraPDF, the PDF/A and PDF/UA validator, for checking that the letters' PDFs are accessible.
#   verapdf.sh setup            fetch the jars with Maven into .local/verapdf/libs (skipped when current)
#   verapdf.sh run ARGS...      run the veraPDF command line (GreenfieldCliWrapper) with ARGS,
#                               e.g. `verapdf.sh run -f ua1 --format text letter.pdf`
#   verapdf.sh status           exit 0 when the jars are current, 3 when not
# veraPDF keeps its configuration in .local/verapdf/home (not in ~/.verapdf).
set -euo pipefail
AR_COMPONENT=verapdf
# shellcheck source=../lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/../lib.sh"

POM="$AR_ROOT/infra/verapdf/pom.xml"
HOME_DIR="$AR_LOCAL/verapdf"
LIBS="$HOME_DIR/libs"
STAMP="$HOME_DIR/libs.stamp"
MAIN_CLASS=org.verapdf.apps.GreenfieldCliWrapper

pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }

libs_current() {
  [[ -f $STAMP && $(cat "$STAMP") == "$(pom_sum)" ]] && compgen -G "$LIBS/greenfield-apps-*.jar" >/dev/null
}

java_bin() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then echo "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null; then command -v java
  else die "java not found: install a Java 17+ runtime (Debian: apt-get install -y openjdk-17-jre-headless)"
  fi
}

cmd_setup() {
  if libs_current; then
    say "veraPDF jars are current ($(find "$LIBS" -name '*.jar' | wc -l) jars in .local/verapdf/libs)"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install -y maven)"
  java_bin >/dev/null
  local t0 tmp
  t0=$(date +%s)
  say "fetching veraPDF jars with Maven (pom sha256 changed or jars missing)"
  mkdir -p "$HOME_DIR"
  tmp="$HOME_DIR/libs.new"
  rm -rf "$tmp"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" -DincludeScope=runtime >"$HOME_DIR/mvn.log" 2>&1; then
    tail -n 40 "$HOME_DIR/mvn.log" >&2
    die "mvn dependency:copy-dependencies failed (network? ~/.m2 settings?); log: .local/verapdf/mvn.log"
  fi
  compgen -G "$tmp/greenfield-apps-*.jar" >/dev/null || die "Maven finished but no greenfield-apps jar arrived"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  pom_sum >"$STAMP"
  say "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $(elapsed "$t0")"
}

cmd_run() {
  libs_current || die "veraPDF jars missing or stale; run \`$0 setup\` (or \`make setup\`) first"
  mkdir -p "$HOME_DIR/home"
  exec "$(java_bin)" -Dapp.home="$HOME_DIR/home" -Djava.awt.headless=true \
    -cp "$LIBS/*" "$MAIN_CLASS" "$@"
}

cmd_status() {
  if libs_current; then say "veraPDF jars current in .local/verapdf/libs"; return 0; fi
  say "veraPDF jars missing or stale (run \`$0 setup\`)"
  return 3
}

case "${1:-}" in
  setup) cmd_setup ;;
  run) shift; cmd_run "$@" ;;
  status) cmd_status ;;
  *) echo "usage: $0 setup|run ARGS...|status" >&2; exit 2 ;;
esac
