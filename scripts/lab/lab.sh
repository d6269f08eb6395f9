#!/usr/bin/env bash
# The offline lab cluster from a shell: `make lab-up` and `make lab-down` call this.
# The work is done by fixtures/lab.py (the same code the pytest cluster fixture uses);
# `up` first builds the tools the lab needs when they are missing.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/lab/lab.sh up [--timeout SECONDS] | down | status | env | reload-prometheus

  up                 build missing tools, start the lab (or find it up), wait until ready
  down               stop every lab process and free its ports
  status             each component's pid, readiness and log file (exit 69 when not up)
  env                shell exports for kubectl, helm and the tests: eval "\$(scripts/lab/lab.sh env)"
  reload-prometheus  regenerate prometheus.yml from scrape.d/ and reload Prometheus

State, kubeconfig and logs: \${SRE_PLATFORM_CACHE:-~/.cache/sre-platform}/lab/
Ports and the Prometheus extension points: docs/interfaces.md ("The lab").
Exit codes: 0 ok, 64 usage, 65 bad scrape.d file, 66 a binary is missing,
69 a port is in use / a component failed / the Python environment is missing, 75 timed out.
USAGE
}

[[ $# -ge 1 ]] || { usage >&2; exit 64; }
case "$1" in
  -h|--help) usage; exit 0 ;;
  up|down|status|env|reload-prometheus) ;;
  *) echo "lab: unknown command '$1'" >&2; usage >&2; exit 64 ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
python=${PYTHON:-$repo/.venv/bin/python}
if [[ ! -x "$python" ]]; then
  echo "lab: $python is missing; run 'make setup' (or 'make venv') first" >&2
  exit 69
fi

if [[ "$1" == up ]]; then
  # Only what the lab runs; a no-op in well under a second when everything is built.
  tools/build.sh kubernetes etcd kwok argo-rollouts kube-state-metrics helm
fi
exec "$python" -m fixtures.lab "$@"
