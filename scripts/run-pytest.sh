#!/usr/bin/env bash
# Run one test tier with the project's pytest and give exit code 5 (no tests collected)
# its meaning here: a tier that collects nothing is broken, not green. With --skip-budget, a
# skip that the platform's allow-list does not name fails the tier too: a skip is not a pass.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/run-pytest.sh [--skip-budget PLATFORM [--allow-list FILE]] [--scratch-in-memory]
                             <tier-name> <pytest args...>

Runs .venv/bin/pytest with the given arguments and writes JUnit to reports/<tier-name>.xml.
--skip-budget PLATFORM: then every skipped test must be on PLATFORM's list in the
allow-list (default suites/e2e/skip-allowlist.yaml; scripts/lib/skip_budget.py), or the
tier fails (exit 1) naming it.
--scratch-in-memory: the tier's scratch files (TMPDIR, hence pytest's tmp_path) on /dev/shm
when it is a writable tmpfs and TMPDIR is not set (the static tier: its mutation self-tests
make ~1,000 files, folders and links a run, about a second of system time on a disk).
Exit codes: pytest's own, except 5 (no tests collected), which becomes 3 with a message;
1 also when a skip is not allowed; 64 usage; 65/66 a malformed/missing allow-list.
USAGE
}

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
  usage
  [[ $# -lt 1 ]] && exit 64
  exit 0
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
budget=""
allow_list="$here/suites/e2e/skip-allowlist.yaml"
scratch_in_memory=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --skip-budget)
      [[ $# -ge 2 && -n "$2" ]] || { echo "run-pytest: --skip-budget needs a platform" >&2; exit 64; }
      budget=$2
      shift 2
      ;;
    --scratch-in-memory)
      scratch_in_memory=true
      shift
      ;;
    --allow-list)
      [[ $# -ge 2 && -n "$2" ]] || { echo "run-pytest: --allow-list needs a file" >&2; exit 64; }
      allow_list=$2
      shift 2
      ;;
    *) break ;;
  esac
done
if [[ $# -lt 1 ]]; then
  usage >&2
  exit 64
fi
tier=$1
shift
# The tier name becomes a file name (reports/<tier>.xml): a word, never an option.
if [[ ! "$tier" =~ ^[a-z][a-z0-9._-]*$ ]]; then
  echo "run-pytest: '$tier' is not a tier name (expected e.g. static, e2e, validate-lab)" >&2
  usage >&2
  exit 64
fi
pytest_bin="$here/.venv/bin/pytest"
if [[ ! -x "$pytest_bin" ]]; then
  echo "run-pytest: $pytest_bin is missing; run 'make setup' first" >&2
  exit 69
fi
mkdir -p "$here/reports"
# A warm run reuses compiled bytecode: kept in the user's cache, never in the clone, also
# where the environment sets PYTHONDONTWRITEBYTECODE (some CI images do): without it every
# run compiles the project's modules again (about a second of the static tier).
# shellcheck source=scripts/lib/common.sh disable=SC1091
source "$here/scripts/lib/common.sh"
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$(sp_cache_root)/pycache}"
unset PYTHONDONTWRITEBYTECODE
if $scratch_in_memory && [[ -z "${TMPDIR:-}" && -d /dev/shm && -w /dev/shm ]] &&
  [[ "$(stat -f -c %T /dev/shm 2>/dev/null)" == tmpfs ]]; then
  export TMPDIR=/dev/shm
fi

set +e
"$pytest_bin" --junitxml="$here/reports/$tier.xml" "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "run-pytest: the $tier tier collected no tests; that is a broken tier, not a pass" >&2
  exit 3
fi
if [[ -n "$budget" && -f "$here/reports/$tier.xml" ]]; then
  set +e
  "$here/.venv/bin/python" "$here/scripts/lib/skip_budget.py" --platform "$budget" \
    --allow "$allow_list" "$here/reports/$tier.xml"
  budget_rc=$?
  set -e
  # A failed tier keeps pytest's code; a green one with a skip off the list fails.
  if [[ $rc -eq 0 && $budget_rc -ne 0 ]]; then
    rc=$budget_rc
  fi
fi
exit "$rc"
