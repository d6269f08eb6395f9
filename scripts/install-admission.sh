#!/usr/bin/env bash
# Install this repository's admission policies (deploy/admission/: ValidatingAdmissionPolicies
# and their bindings, generated from the rules with `admission: true`) on a cluster, and
# remove the ones of ours that no rule generates any more. Idempotent: server-side apply.
set -euo pipefail

# shellcheck disable=SC2034 # read by scripts/lib/common.sh
SP_PROG=install-admission
# shellcheck source=scripts/lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

SELECTOR="app.kubernetes.io/part-of=sre-platform,app.kubernetes.io/component=admission"
KINDS="validatingadmissionpolicies.admissionregistration.k8s.io,validatingadmissionpolicybindings.admissionregistration.k8s.io"

usage() {
  cat <<USAGE
Usage: scripts/install-admission.sh [options]

Apply deploy/admission/ (one file per rule: its ValidatingAdmissionPolicy and bindings) to
a Kubernetes cluster (1.30 or later: admissionregistration.k8s.io/v1, no webhook), then
delete the policies and bindings labelled as ours ($SELECTOR)
that the folder no longer holds. The files must be current: 'make admission' writes them
from policies/rules/ (the script checks with 'python -m policies.admission check').

The bindings judge only namespaces labelled sre-platform.io/environment=<env> (ArgoCD sets
it through the Applications' managedNamespaceMetadata; elsewhere:
  kubectl label namespace <ns> sre-platform.io/environment=<env>). docs/admission.md.

Options:
  --env ENV           use the cluster of environments/ENV.yaml (default: kubectl's current context)
  --kubeconfig FILE   kubeconfig to use (overrides --env's)
  --context NAME      kubeconfig context to use (overrides --env's)
  --dir DIR           the manifests (default deploy/admission; not checked for staleness)
  --dry-run           send everything with 'kubectl apply --dry-run=server'; change nothing
  --uninstall         delete every policy and binding of ours instead
  -h, --help          this help

Exit codes:
  0   installed (or removed), nothing else to do
  1   a kubectl apply or delete failed
  64  wrong arguments
  65  unknown environment or malformed environment file; deploy/admission is stale
  66  the folder or the kubeconfig is missing
  69  the cluster is unreachable, does not serve ValidatingAdmissionPolicies, or kubectl
      is missing

Examples:
  scripts/install-admission.sh --env production --dry-run
  scripts/install-admission.sh --env lab
  scripts/install-admission.sh --context my-eks-cluster --uninstall
USAGE
}

dir="" dry_run=false uninstall=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --env | --env=* | --kubeconfig | --kubeconfig=* | --context | --context=*)
      sp_cluster_option "$@"; shift $((SP_OPTION_WORDS - 1)) ;;
    --dir) sp_need_value "$1" $#; dir=$2; shift ;;
    --dir=*) dir=${1#*=} ;;
    --dry-run) dry_run=true ;;
    --uninstall) uninstall=true ;;
    -*) sp_usage_error "unknown option '$1'" ;;
    *) sp_usage_error "unexpected argument '$1' (this script takes options only)" ;;
  esac
  shift
done
env=$SP_ENV_OPTION

if [[ -z "$dir" ]]; then
  dir="$SP_REPO_ROOT/deploy/admission"
  if ! $uninstall; then
    check_out=$(cd "$SP_REPO_ROOT" && sp_python -m policies.admission check 2>&1) ||
      sp_die "$SP_EX_DATAERR" "deploy/admission is stale, run 'make admission' first: ${check_out//$'\n'/; }"
  fi
fi
[[ -d "$dir" ]] || sp_die "$SP_EX_NOINPUT" "$dir is not a directory"

# --- the cluster --------------------------------------------------------------------------

sp_connect_cluster "$env"

served=$(sp_kubectl api-resources --api-group=admissionregistration.k8s.io -o name 2>/dev/null || true)
if ! grep -qx "validatingadmissionpolicies.admissionregistration.k8s.io" <<<"$served"; then
  sp_die "$SP_EX_UNAVAILABLE" "the cluster does not serve admissionregistration.k8s.io/v1 ValidatingAdmissionPolicies (Kubernetes 1.30 or later)"
fi

dry_args=()
$dry_run && dry_args=(--dry-run=server)

# ours: the kind/name of every policy and binding of ours in the cluster, one a line.
ours() {
  sp_kubectl get "$KINDS" -l "$SELECTOR" -o name ||
    sp_die "$SP_EX_FAIL" "cannot list the admission policies of the cluster"
}

if $uninstall; then
  mapfile -t installed < <(ours)
  if [[ ${#installed[@]} -eq 0 ]]; then
    sp_log "no admission policies of ours installed"
    exit "$SP_EX_OK"
  fi
  sp_kubectl delete "${dry_args[@]}" "${installed[@]}" >&2 ||
    sp_die "$SP_EX_FAIL" "kubectl delete failed (see above)"
  sp_log "removed ${#installed[@]} policies and bindings${dry_args:+ (dry run)}"
  exit "$SP_EX_OK"
fi

# Policies before bindings: a binding whose policy does not exist yet matches nothing.
files=()
while IFS= read -r -d '' file; do files+=(-f "$file"); done < <(find "$dir" -name '*.yaml' -print0 | sort -z)
[[ ${#files[@]} -gt 0 ]] || sp_die "$SP_EX_NOINPUT" "$dir holds no manifests"
if ! applied=$(sp_kubectl apply --server-side --force-conflicts --field-manager=sre-platform-admission \
  "${dry_args[@]}" "${files[@]}" -o name); then
  sp_die "$SP_EX_FAIL" "kubectl apply of $dir failed (see above)"
fi
count=$(grep -c . <<<"$applied")
sp_log "applied $count policies and bindings from $dir${dry_args:+ (dry run)}"

stale=()
while IFS= read -r name; do
  [[ -n "$name" ]] && ! grep -qxF "$name" <<<"$applied" && stale+=("$name")
done < <(ours)
if [[ ${#stale[@]} -gt 0 ]]; then
  sp_log "removing ${#stale[@]} of ours that no rule generates any more: ${stale[*]}"
  sp_kubectl delete "${dry_args[@]}" "${stale[@]}" >&2 || sp_die "$SP_EX_FAIL" "kubectl delete failed (see above)"
fi
printf '%s\n' "$applied"
