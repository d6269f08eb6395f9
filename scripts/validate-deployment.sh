#!/usr/bin/env bash
# Post-deploy validation of one environment: runs the validate tier,
# `pytest suites/validate --env <env>`, which only reads the environment (health, drift,
# restarts, SLOs from Prometheus, PDB/HPA/zones, ArgoCD state). Its exit code is passed through.
set -euo pipefail

# shellcheck disable=SC2034 # read by scripts/lib/common.sh
SP_PROG=validate-deployment
# shellcheck source=scripts/lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<USAGE
Usage: scripts/validate-deployment.sh <env> [--full] [--read-only] [-- <pytest args>...]

Check environment <env> (a file in environments/: $(sp_known_envs 2>/dev/null || echo dev, staging, production, lab)) right after a
deploy: the rollout is Healthy and fully promoted, the running image is the tag git holds,
no restarts, /healthz /readyz /version, an API smoke round trip, SLOs (success rate, p99)
from Prometheus, PDB, HPA and zone spread, and the ArgoCD Application when there is one.

Options:
  --full        add a short, bounded latency probe against the service
  --read-only   skip the API smoke round trip (production's file already turns it off)
  -- ARGS       passed to pytest as they are (e.g. -- -k slo -x)
  -h, --help    this help

Runs: scripts/run-pytest.sh validate-<env> suites/validate --env <env> [--full] [--read-only]
JUnit: reports/validate-<env>.xml

Exit codes (the validate tier's, passed through):
  0   every check passed
  1   a check failed (the summary names it, with the measured value and the threshold)
  2   pytest was interrupted or its arguments were wrong
  3   the tier collected no tests (a broken tier, not a pass)
  64  wrong arguments
  65  unknown environment or malformed environment file
  66  the environment's kubeconfig file is missing
  69  the cluster, the service or Prometheus is unreachable, or the tier is not installed
  75  timed out
USAGE
}

env="" extra=() pytest_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --full | --read-only) extra+=("$1") ;;
    --) shift; pytest_args+=("$@"); break ;;
    -*) sp_usage_error "unknown option '$1'" ;;
    *)
      [[ -z "$env" ]] || sp_usage_error "expected one environment, got '$env' and '$1'"
      env=$1
      ;;
  esac
  shift
done
if [[ -z "$env" ]]; then
  usage >&2
  exit "$SP_EX_USAGE"
fi

sp_load_env "$env"
# Fail fast with the endpoint's name when the cluster is not there (when kubectl is
# available; the tier itself talks to the API through its Python client).
if [[ -n "${KUBECTL:-}" ]] || command -v kubectl >/dev/null 2>&1 ||
  [[ -x "$(sp_cache_root)/tools/kubernetes/$(sp_pinned_version KUBERNETES_VERSION)/kubectl" ]]; then
  sp_kube_args_from_env
  sp_require_cluster
fi

runner="$SP_REPO_ROOT/scripts/run-pytest.sh"
[[ -x "$runner" ]] || sp_die "$SP_EX_UNAVAILABLE" "$runner is missing"
if [[ -z "$(find "$SP_REPO_ROOT/suites/validate" -name 'test_*.py' -print -quit 2>/dev/null)" ]]; then
  sp_die "$SP_EX_UNAVAILABLE" "the validate tier ($SP_REPO_ROOT/suites/validate) has no tests yet"
fi

cd "$SP_REPO_ROOT"
rc=0
"$runner" "validate-$env" suites/validate --env "$env" "${extra[@]}" "${pytest_args[@]}" || rc=$?
case $rc in
  0) sp_log "environment $env: every check passed" ;;
  1) sp_log "environment $env: a check failed (see the summary above and reports/validate-$env.xml)" ;;
  *) sp_log "environment $env: the validate tier ended with exit code $rc" ;;
esac
exit "$rc"
