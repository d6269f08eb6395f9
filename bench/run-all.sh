#!/usr/bin/env bash
# Run every bench/bench-* script in name order and print their figures. A script that
# cannot measure (its prerequisite is missing) fails this run with its own message.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  echo "Usage: bench/run-all.sh [name-filter]   (runs bench/bench-*<filter>*)"
  exit 0
fi
filter=${1:-}
status=0
found=false
for script in "$here"/bench-*"$filter"*; do
  [[ -x "$script" ]] || continue
  found=true
  echo "== $(basename "$script")"
  "$script" || { echo "bench: $(basename "$script") failed (exit $?)" >&2; status=1; }
done
if ! $found; then
  echo "bench: no bench/bench-*$filter* scripts" >&2
  exit 66
fi
exit "$status"
