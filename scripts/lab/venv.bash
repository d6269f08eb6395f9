# shellcheck shell=bash
# Sourced by scripts/lab/lab.sh, scripts/lab/argocd.sh and scripts/node/node.sh: the one way
# they find the project's Python. Goes to the repository root and sets $repo and $python
# ($PYTHON, else .venv/bin/python); without it, exits 69 saying how to make it.
# $1: the calling script's name, for the message.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
python=${PYTHON:-$repo/.venv/bin/python}
if [[ ! -x "$python" ]]; then
  echo "$1: $python is missing; run 'make setup' (or 'make venv') first" >&2
  exit 69
fi
