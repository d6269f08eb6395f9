#!/usr/bin/env bash
# Run one test tier with the project's pytest and give exit code 5 (no tests collected)
# its meaning here: a tier that collects nothing is broken, not green.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/run-pytest.sh <tier-name> <pytest args...>

Runs .venv/bin/pytest with the given arguments and writes JUnit to reports/<tier-name>.xml.
Exit codes: pytest's own, except 5 (no tests collected), which becomes 3 with a message.
USAGE
}

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
  usage
  [[ $# -lt 1 ]] && exit 64
  exit 0
fi

tier=$1
shift
# The tier name becomes a file name (reports/<tier>.xml): a word, never an option.
if [[ ! "$tier" =~ ^[a-z][a-z0-9._-]*$ ]]; then
  echo "run-pytest: '$tier' is not a tier name (expected e.g. static, e2e, validate-lab)" >&2
  usage >&2
  exit 64
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pytest_bin="$here/.venv/bin/pytest"
if [[ ! -x "$pytest_bin" ]]; then
  echo "run-pytest: $pytest_bin is missing; run 'make setup' first" >&2
  exit 69
fi
mkdir -p "$here/reports"

set +e
"$pytest_bin" --junitxml="$here/reports/$tier.xml" "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "run-pytest: the $tier tier collected no tests; that is a broken tier, not a pass" >&2
  exit 3
fi
exit "$rc"
