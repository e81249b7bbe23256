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
MAIN_CLASS=org.verapdf.apps.GreenfieldCliWrapper

libs_current() { maven_jars_current "$POM" "$LIBS" 'greenfield-apps-*.jar'; }

cmd_setup() { maven_jars "$POM" "$LIBS" 'greenfield-apps-*.jar' veraPDF; }

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
