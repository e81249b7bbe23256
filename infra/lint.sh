#!/usr/bin/env bash
# The static checks (`make lint`, and .ci/run through it): ruff, ruff format, the layering
# contracts (lint-imports, pyproject.toml [tool.importlinter]), mypy on every folder, and
# pip-audit over the hashed lock (tools/audit.py; it needs PyPI's JSON API, and fails when it
# cannot audit unless AR_AUDIT_UNAVAILABLE=warn: docs/security.md, "Dependencies").
# Runs them all, so one run shows every failure; exits 1 if any failed. Needs .venv
# (`make setup`).
set -uo pipefail
AR_COMPONENT=lint
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"
cd "$AR_ROOT" || exit 1
BIN="$AR_ROOT/.venv/bin"
[[ -x $BIN/python ]] || die "no virtualenv at .venv; run \`make setup\` first"

# tools/ (the documentation generators) is checked once it exists.
typed=(contracts services)
[[ -d tools ]] && typed+=(tools)
typed+=(bench tests)

failed=()
check() {
  say "$*"
  "$BIN/$1" "${@:2}" || failed+=("${*:1:2}")
}
check ruff check .
check ruff format --check .
# No cache: grimp keeps importers' cached imports when a folder gains its __init__.py.
check lint-imports --no-cache
check mypy "${typed[@]}"
say "pip-audit -r requirements-dev.lock (tools/audit.py)"
"$BIN/python" -m tools.audit requirements-dev.lock || failed+=("pip-audit")

if (( ${#failed[@]} )); then
  warn "failed: $(IFS=,; echo "${failed[*]}")"
  exit 1
fi
say "all checks passed"
