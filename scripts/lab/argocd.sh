#!/usr/bin/env bash
# ArgoCD in the offline lab: its application controller and repo-server (the pinned
# multiplexed `argocd` binary) and a Redis as local processes against the running lab.
# The work is done by fixtures/gitops/argocd.py (the same code the e2e tier uses); `start` first
# builds ArgoCD when it is missing. scripts/setup-argocd.sh --lab calls `start`.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/lab/argocd.sh start [--timeout SECONDS] | stop | status | env [--environments]

  start    build ArgoCD if missing, install its CRDs and configuration (pinned module's
           defaults, then this repository's argocd/install.yaml rewritten for the lab),
           start Redis, argocd-repo-server and argocd-application-controller (or find them
           up), wait until ready. The lab must be up (make lab-up).
  stop     stop the three processes (the cluster's ArgoCD objects stay)
  status   each process's pid, readiness and log file (exit 69 when not up)
  env      shell exports for kubectl, helm and argocd: eval "\$(scripts/lab/argocd.sh env)";
           --environments: KUBECONFIG with contexts sre-platform-{dev,staging,production}
           on the lab and SP_PYTHON, not the argocd CLI (Quick Start, README.md)

Then apply the repository's AppProject and Applications: scripts/setup-argocd.sh --lab
(they read the lab's GitOps repository, \${SRE_PLATFORM_CACHE:-~/.cache/sre-platform}/lab/gitops/).
Logs: \${SRE_PLATFORM_CACHE:-~/.cache/sre-platform}/lab/logs/argocd-*.log. Ports and layout:
docs/argocd-lab.md.
Exit codes: 0 ok, 64 usage, 66 a binary is missing (make tools; apt-get install redis-server),
69 the lab is not up / a port is in use / a component failed / no Python environment,
75 timed out.
USAGE
}

[[ $# -ge 1 ]] || { usage >&2; exit 64; }
case "$1" in
  -h | --help) usage; exit 0 ;;
  start) command=up ;;
  stop) command=down ;;
  status | env) command=$1 ;;
  *) echo "argocd: unknown command '$1'" >&2; usage >&2; exit 64 ;;
esac
shift
if [[ "$command" != up && "$command" != env && $# -gt 0 ]]; then
  echo "argocd: '$command' takes no arguments" >&2
  exit 64
fi

# shellcheck source=scripts/lab/venv.bash
source "$(dirname "${BASH_SOURCE[0]}")/venv.bash" argocd

if [[ "$command" == up ]]; then
  # A no-op in well under a second when built; the first build takes minutes (cold: see
  # bench/bench-argocd).
  tools/build.sh argo-cd helm kubernetes
fi
exec "$python" -m fixtures.gitops.argocd "$command" "$@"
