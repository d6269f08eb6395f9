#!/usr/bin/env bash
# The offline lab cluster from a shell: `make lab-up`, `make lab-deploy` and `make lab-down`
# call this. The work is done by fixtures/lab/ (the same code the pytest cluster fixture
# uses); `up` first builds the tools the lab needs when they are missing.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/lab/lab.sh up [--timeout SECONDS] | down | status | env | reload-prometheus
       scripts/lab/lab.sh deploy [--env ENV] [--no-endpoint] [--timeout SECONDS]
       scripts/lab/lab.sh undeploy [--env ENV] | deploy-status [--env ENV] | stop-extras

  up                 build missing tools, start the lab (or find it up), wait until ready
  down               stop what runs beside the lab (ArgoCD, the real node, deployed
                     environments' extras), then every lab process; free its ports
  status             each component's pid, readiness and log file (exit 69 when not up)
  env                shell exports for kubectl, helm and the tests: eval "\$(scripts/lab/lab.sh env)"
  reload-prometheus  regenerate prometheus.yml from scrape.d/ and reload Prometheus
  deploy             environments/ENV.yaml (default lab) into the running lab, with what
                     serves it (make lab-deploy; docs/e2e.md)
  undeploy           remove it again; deploy-status: its workload, traffic and endpoint
  stop-extras        stop every deployed environment's traffic, load and endpoint

State, kubeconfig and logs: \${SRE_PLATFORM_CACHE:-~/.cache/sre-platform}/lab/
Ports and the Prometheus extension points: docs/interfaces.md ("The lab").
Exit codes: 0 ok, 1 not Healthy (deploy-status), 64 usage, 65 bad scrape.d file, values or
environment, 66 a binary is missing, 69 a port is in use / a component failed / the Python
environment is missing, 70 internal error, 75 timed out.
USAGE
}

[[ $# -ge 1 ]] || { usage >&2; exit 64; }
case "$1" in
  -h|--help) usage; exit 0 ;;
  up|down|status|env|reload-prometheus|deploy|undeploy|deploy-status|stop-extras) ;;
  *) echo "lab: unknown command '$1'" >&2; usage >&2; exit 64 ;;
esac

# shellcheck source=scripts/lab/venv.bash
source "$(dirname "${BASH_SOURCE[0]}")/venv.bash" lab

if [[ "$1" == up ]]; then
  # Only what the lab runs; a no-op in well under a second when everything is built.
  tools/build.sh kubernetes etcd kwok argo-rollouts kube-state-metrics helm
fi
exec "$python" -m fixtures.labctl "$@"
