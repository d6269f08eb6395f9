#!/usr/bin/env bash
# Make ArgoCD apply a GitOps commit to an environment now: refresh the Application, sync
# it (a manual-sync Application such as production is synced here, once the workflow's
# protected environment has been approved), and wait until it is Synced at that commit.
set -euo pipefail

# shellcheck disable=SC2034 # read by scripts/lib/common.sh
SP_PROG=argocd-sync
# shellcheck source=scripts/lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/argocd.sh disable=SC1091
source "$SP_LIB_DIR/argocd.sh"

usage() {
  cat <<USAGE
Usage: .github/scripts/argocd-sync.sh <env> <commit> [--timeout DURATION]

Refresh and sync the ArgoCD Application of environment <env> ($(sp_known_envs 2>/dev/null || echo dev, staging, production, lab)), then
wait until it is Synced at git commit <commit> (full SHA). Default timeout 10m.
Exit codes: 0 synced, 1 the sync failed, 64 usage, 65 unknown environment or ArgoCD not
enabled for it, 66 kubeconfig missing, 69 cluster or Application unreachable, 75 timeout.
USAGE
}
timeout=10m
positional=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --timeout) sp_need_value "$1" $#; timeout=$2; shift ;;
    -*) sp_usage_error "unknown option '$1'" ;;
    *) positional+=("$1") ;;
  esac
  shift
done
[[ ${#positional[@]} -eq 2 ]] || { usage >&2; exit "$SP_EX_USAGE"; }
env=${positional[0]} commit=${positional[1]}
[[ "$commit" =~ ^[0-9a-f]{40}$ ]] || sp_usage_error "<commit> must be a full 40-hex SHA, not '$commit'"
seconds=$(sp_duration_seconds "$timeout")

sp_load_env "$env"
[[ "$SP_ENV_ARGOCD_ENABLED" == true ]] || sp_die "$SP_EX_DATAERR" "ArgoCD does not manage environment '$env' (argocd.enabled is false)"
sp_kube_args_from_env
sp_require_cluster
sp_argocd_init
sp_argocd_require
sp_argocd_refresh
sp_argocd_sync
rc=0
sp_argocd_wait_synced "$commit" "$seconds" || rc=$?
case $rc in
  0) echo "argocd-sync: $SP_ARGOCD_APP is Synced at ${commit:0:12}" ;;
  75) exit "$SP_EX_TEMPFAIL" ;;
  *) sp_die "$SP_EX_FAIL" "$SP_ARGOCD_APP did not sync ${commit:0:12}: $(sp_argocd_field '{.status.operationState.message}')" ;;
esac
